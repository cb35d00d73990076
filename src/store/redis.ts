// KeyValueStore on Redis (ioredis): standalone, Sentinel or Cluster; every backend failure rejects with StoreUnavailableError.
import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { claimPair, toJson } from './json-text.js';
import { hashTagOf, RedisTurnBatcher, RUN_LUA } from './redis-batch.js';
import { StoreUnavailableError } from './store.js';
import type { ClaimResult, KeyValueStore, ScheduleEntry, TokenTake, WriteOp } from './store.js';

/** Where Redis is and how to reach it. Exactly one of url, cluster, sentinels (url defaults to redis://127.0.0.1:6379). */
export interface RedisConnection {
  /** redis://[user:pass@]host:port[/db] or rediss:// (TLS). */
  url?: string;
  /** Redis Cluster seed nodes, "host:port". */
  cluster?: readonly string[];
  /** Sentinels, "host:port"; needs sentinelName. */
  sentinels?: readonly string[];
  /** Master group name watched by the sentinels. */
  sentinelName?: string;
  username?: string;
  password?: string;
  /** TLS for every connection (rediss:// URLs turn it on by themselves); an object sets the CA / verification. */
  tls?: boolean | { ca?: string; rejectUnauthorized?: boolean; servername?: string };
  /** A command that gets no answer within this time fails (default 2000 ms). */
  commandTimeoutMs?: number;
}

export interface RedisStoreOptions {
  connection?: RedisConnection;
  /** Prepended to every key and channel (e.g. "vestibule:"). */
  prefix?: string;
  logger?: Logger;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 2000;

/** RUN_LUA as a client command (EVALSHA, with EVAL when Redis does not have the script yet). */
type RunCommand = (numKeys: number, ...keysAndArgs: string[]) => Promise<unknown[]>;

type Client = Redis | Cluster;

/** Redis expiry arguments must be positive integers; the memory store rounds the same way. */
function pxOf(ttlMs: number): string {
  return String(Math.max(1, Math.ceil(ttlMs)));
}

function hostPort(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(':');
  if (at <= 0) return { host: node, port: 6379 };
  return { host: node.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(at + 1)) };
}

function tlsOptions(tls: RedisConnection['tls']): RedisOptions['tls'] {
  if (!tls) return undefined;
  return tls === true ? {} : { ...tls };
}

/**
 * ioredis client configured to fail fast: no offline queue, bounded command time, quick reconnects.
 * No auto-pipelining: with the offline queue off it can leave a script call unsettled (ioredis issue #1511).
 */
export function createRedisClient(connection: RedisConnection = {}): Client {
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: connection.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    connectTimeout: 5000,
    retryStrategy: (times: number) => Math.min(times * 100, 1000),
    ...(connection.username !== undefined ? { username: connection.username } : {}),
    ...(connection.password !== undefined ? { password: connection.password } : {}),
  };
  const tls = tlsOptions(connection.tls);
  if (connection.cluster && connection.cluster.length > 0) {
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      clusterRetryStrategy: (times: number) => Math.min(times * 100, 1000),
      redisOptions: { ...common, ...(tls ? { tls } : {}) },
    };
    return new Cluster(connection.cluster.map(hostPort), options);
  }
  if (connection.sentinels && connection.sentinels.length > 0) {
    return new Redis({
      ...common,
      sentinels: connection.sentinels.map(hostPort),
      name: connection.sentinelName ?? 'mymaster',
      ...(tls ? { tls, enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
      ...(connection.password !== undefined ? { sentinelPassword: connection.password } : {}),
    });
  }
  return new Redis(connection.url ?? 'redis://127.0.0.1:6379', { ...common, ...(tls ? { tls } : {}) });
}

export class RedisStore implements KeyValueStore {
  readonly kind = 'redis' as const;
  readonly client: Client;
  /** Prepended to every key and channel. */
  readonly prefix: string;
  private readonly isCluster: boolean;
  private readonly logger?: Logger;
  private readonly commandTimeoutMs: number;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private subscriber?: Client;
  private down = false;
  private readonly batcher: RedisTurnBatcher;

  constructor(options: RedisStoreOptions = {}) {
    this.client = createRedisClient(options.connection);
    this.prefix = options.prefix ?? '';
    this.isCluster = this.client instanceof Cluster;
    this.logger = options.logger;
    this.commandTimeoutMs = options.connection?.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.client.defineCommand('vstRun', { lua: RUN_LUA });
    const run = (this.client as unknown as { vstRun: RunCommand }).vstRun;
    this.batcher = new RedisTurnBatcher(
      (keys, args) => run.call(this.client, keys.length, ...keys, ...args),
      this.isCluster,
      unavailable,
    );
    this.watch(this.client, 'commands');
  }

  /** Logs the first error of an outage and the recovery, not every reconnect attempt. */
  private watch(client: Client, role: string): void {
    client.on('error', (err: Error) => {
      if (this.down) return;
      this.down = true;
      this.logger?.error({ err: { message: err.message }, role }, 'redis connection lost');
    });
    client.on('ready', () => {
      if (!this.down) return;
      this.down = false;
      this.logger?.info({ role }, 'redis connection restored');
    });
  }

  /** Resolves once Redis answers a PING; rejects with StoreUnavailableError when it does not within timeoutMs. */
  async ready(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.ping();
        return;
      } catch (err) {
        const left = deadline - Date.now();
        if (left <= 0) throw err;
        await waitReady(this.client, Math.min(left, 100)).catch(() => undefined);
        if (this.client.status === 'ready') await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  /** Nothing is queued while disconnected: an operation fails at once instead of hanging or replaying later. */
  private assertReady(): void {
    if (this.client.status !== 'ready') throw new StoreUnavailableError(undefined, { cause: new Error(`redis is ${this.client.status}`) });
  }

  /** Runs a command outside the turn batches (publish, subscribe, ping). */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    this.assertReady();
    try {
      return await run();
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Queues one operation of RUN_LUA's program for this turn (see redis-batch.ts); fails at once while disconnected. */
  private async op(keys: readonly string[], args: readonly string[]): Promise<unknown> {
    this.assertReady();
    return this.batcher.run(keys, args);
  }

  async get<T>(key: string): Promise<T | undefined> {
    return parsed<T>(await this.op([this.k(key)], ['g']));
  }

  async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    if (keys.length === 0) return [];
    const full = keys.map((key) => this.k(key));
    if (!this.isCluster) return ((await this.op(full, ['m', String(full.length)])) as unknown[]).map((json) => parsed<T>(json));
    // Cluster: one read per key, each batched with the other operations of its hash tag.
    return Promise.all(full.map(async (key) => parsed<T>(await this.op([key], ['g']))));
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    await this.op([this.k(key)], ['s', toJson(key, value), ttlMs === undefined ? '' : pxOf(ttlMs)]);
  }

  async setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean> {
    return (await this.op([this.k(key)], ['n', toJson(key, value), pxOf(ttlMs)])) === 1;
  }

  async take<T>(key: string): Promise<T | undefined> {
    return parsed<T>(await this.op([this.k(key)], ['x']));
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const full = keys.map((key) => this.k(key));
    if (!this.isCluster) await this.op(full, ['d', String(full.length)]);
    else await Promise.all(full.map((key) => this.op([key], ['d', '1'])));
  }

  async deleteIfEquals(key: string, value: unknown): Promise<boolean> {
    return (await this.op([this.k(key)], ['e', toJson(key, value)])) === 1;
  }

  async assign(key: string, fields: Record<string, unknown>): Promise<boolean> {
    const reply = await this.op([this.k(key)], ['a', toJson(key, fields).slice(1, -1)]);
    if (reply === -1) throw new TypeError(`value for ${key} is not an object`);
    return reply === 1;
  }

  async claim(key: string, field: string, value: unknown, alongside?: Record<string, unknown>): Promise<ClaimResult> {
    const reply = await this.op([this.k(key)], ['c', field, claimPair(key, field, value, alongside)]);
    if (reply === -1) throw new TypeError(`value for ${key} is not an object`);
    return reply === 1 ? 'won' : reply === 0 ? 'taken' : 'absent';
  }

  async ttl(key: string): Promise<number | undefined> {
    const left = (await this.op([this.k(key)], ['t'])) as number;
    if (left === -2) return undefined;
    return left === -1 ? Infinity : left;
  }

  async takeToken(key: string, capacity: number, refillPerSecond: number, now: number, upTo = 1): Promise<TokenTake> {
    const args = ['k', String(capacity), String(refillPerSecond), String(Math.floor(now)), String(Math.max(0, Math.floor(upTo)))];
    const [taken, remaining, retryAfterMs, resetMs] = (await this.op([this.k(key)], args)) as number[];
    return { allowed: taken! >= 1, taken: taken!, remaining: remaining!, retryAfterMs: retryAfterMs!, resetMs: resetMs! };
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    return Number(await this.op([this.k(key)], ['i', pxOf(ttlMs)]));
  }

  async scheduleAdd(key: string, member: string, dueAt: number): Promise<void> {
    await this.op([this.k(key)], ['za', member, String(dueAt)]);
  }

  async scheduleRemove(key: string, member: string): Promise<void> {
    await this.op([this.k(key)], ['zr', member]);
  }

  async scheduleTakeDue(key: string, upTo: number, limit: number, leaseMs: number): Promise<ScheduleEntry[]> {
    if (limit <= 0) return [];
    const flat = (await this.op([this.k(key)], ['zt', String(upTo), String(limit), String(leaseMs)])) as string[];
    const out: ScheduleEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ member: flat[i]!, dueAt: Number(flat[i + 1]) });
    return out;
  }

  async mapGetAll<T>(key: string): Promise<Record<string, T>> {
    const flat = (await this.op([this.k(key)], ['h'])) as string[];
    const out: Record<string, T> = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = JSON.parse(flat[i + 1]!) as T;
    return out;
  }

  async mapGet<T>(key: string, field: string): Promise<T | undefined> {
    return parsed<T>(await this.op([this.k(key)], ['hg', field]));
  }

  async batch(ops: readonly WriteOp[]): Promise<void> {
    if (ops.length === 0) return;
    const keys: string[] = [];
    const args: string[] = ['w', String(ops.length)];
    for (const op of ops) {
      keys.push(this.k(op.key));
      switch (op.op) {
        case 'set':
          args.push('s', toJson(op.key, op.value), op.ttlMs === undefined ? '' : pxOf(op.ttlMs));
          break;
        case 'delete':
          args.push('d');
          break;
        case 'deleteIfEquals':
          args.push('e', toJson(op.key, op.value));
          break;
        case 'mapSet':
          args.push('ms', op.field, toJson(op.key, op.value), op.ttlMs === undefined ? '' : pxOf(op.ttlMs));
          break;
        case 'mapDelete':
          args.push('hd', op.field);
          break;
        case 'mapPrune':
          args.push('hp', String(op.upTo));
          break;
      }
    }
    if (this.isCluster && new Set(keys.map(hashTagOf)).size > 1) {
      throw new Error(`batch keys must share one {hash tag} in Redis Cluster: ${[...new Set(ops.map((op) => op.key))].join(', ')}`);
    }
    await this.op(keys, args);
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.call(() => this.client.publish(this.k(channel), message));
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    this.assertReady();
    const subscriber = this.subscriberClient();
    const full = this.k(channel);
    let handlers = this.handlers.get(full);
    if (!handlers) {
      handlers = new Set();
      this.handlers.set(full, handlers);
      try {
        await waitReady(subscriber, this.commandTimeoutMs);
        await this.call(() => subscriber.subscribe(full));
      } catch (err) {
        this.handlers.delete(full);
        throw err;
      }
    }
    handlers.add(handler);
    const registered = handlers;
    return async () => {
      registered.delete(handler);
      if (registered.size === 0 && this.handlers.get(full) === registered) {
        this.handlers.delete(full);
        await this.call(() => subscriber.unsubscribe(full));
      }
    };
  }

  /** One duplicate connection carries every subscription; ioredis resubscribes it after a reconnect. */
  private subscriberClient(): Client {
    if (!this.subscriber) {
      const subscriber = this.client.duplicate();
      subscriber.on('message', (channel: string, message: string) => {
        for (const handler of this.handlers.get(channel) ?? []) handler(message);
      });
      this.watch(subscriber, 'subscriber');
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.ping());
  }

  async close(): Promise<void> {
    await Promise.all([this.client, this.subscriber].map((client) => (client ? quit(client) : undefined)));
  }
}

/** What callers see for any backend failure (connection lost, timeout, script error). */
function unavailable(cause: unknown): StoreUnavailableError {
  return cause instanceof StoreUnavailableError ? cause : new StoreUnavailableError(undefined, { cause });
}

/** A stored JSON value, or undefined for a miss (nil). */
function parsed<T>(json: unknown): T | undefined {
  return typeof json === 'string' ? (JSON.parse(json) as T) : undefined;
}

async function quit(client: Client): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

function waitReady(client: Client, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(() => done(new StoreUnavailableError('redis did not become ready in time')), timeoutMs);
    client.once('ready', onReady);
  });
}
