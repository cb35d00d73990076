// KeyValueStore on Redis (ioredis): standalone, Sentinel or Cluster; every backend failure rejects with StoreUnavailableError.
import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { StoreUnavailableError } from './store.js';
import type { KeyValueStore, WriteOp } from './store.js';

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

/** Batch ops are sent as one Lua script (atomic); type checks come first so no command fails halfway. */
const BATCH_LUA = `
local a = 1
for _, key in ipairs(KEYS) do
  local op = ARGV[a]
  if op == 's' then
    local ttl = tonumber(ARGV[a + 2])
    if ttl then redis.call('SET', key, ARGV[a + 1], 'PX', ttl) else redis.call('SET', key, ARGV[a + 1]) end
    a = a + 3
  elseif op == 'd' then
    redis.call('DEL', key)
    a = a + 1
  elseif op == 'e' then
    if redis.call('TYPE', key).ok == 'string' and redis.call('GET', key) == ARGV[a + 1] then redis.call('DEL', key) end
    a = a + 2
  elseif op == 'm' then
    local kind = redis.call('TYPE', key).ok
    if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', key); kind = 'none' end
    redis.call('HSET', key, ARGV[a + 1], ARGV[a + 2])
    local ttl = tonumber(ARGV[a + 3])
    if kind == 'none' then
      if ttl then redis.call('PEXPIRE', key, ttl) end
    elseif ttl then
      local left = redis.call('PTTL', key)
      if left >= 0 and left < ttl then redis.call('PEXPIRE', key, ttl) end
    else
      redis.call('PERSIST', key)
    end
    a = a + 4
  elseif op == 'h' then
    if redis.call('TYPE', key).ok == 'hash' then redis.call('HDEL', key, ARGV[a + 1]) end
    a = a + 2
  else
    return redis.error_reply('unknown batch op')
  end
end
return 1
`;

const DELETE_IF_EQUALS_LUA = `
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * ARGV[1] is the JSON of the new fields without its braces, appended to the stored object's JSON: JSON.parse keeps
 * the last of duplicate names (ECMA-262 JSON.parse), so the result reads as Object.assign while the stored text is
 * never re-encoded by Lua (cjson would turn [] into {} and round numbers). -1: the stored value is not an object.
 */
const ASSIGN_LUA = `
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return 0 end
local v = redis.call('GET', KEYS[1])
if string.sub(v, 1, 1) ~= '{' or string.sub(v, -1) ~= '}' then return -1 end
if ARGV[1] == '' then return 1 end
if v == '{}' then v = '{' .. ARGV[1] .. '}' else v = string.sub(v, 1, -2) .. ',' .. ARGV[1] .. '}' end
redis.call('SET', KEYS[1], v, 'KEEPTTL')
return 1
`;

const INCREMENT_LUA = `
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCR', KEYS[1])
if existed == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return value
`;

const scripts = {
  vstBatch: BATCH_LUA,
  vstDeleteIfEquals: DELETE_IF_EQUALS_LUA,
  vstAssign: ASSIGN_LUA,
  vstIncrement: INCREMENT_LUA,
} as const;
type ScriptName = keyof typeof scripts;
type ScriptCall = (numKeys: number, ...keysAndArgs: string[]) => Promise<unknown>;

type Client = Redis | Cluster;

/** The part of a key Redis Cluster hashes: the first non-empty {tag}, else the whole key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

function toJson(key: string, value: unknown): string {
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) throw new TypeError(`value for ${key} is not JSON-serialisable`);
  return json;
}

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

  constructor(options: RedisStoreOptions = {}) {
    this.client = createRedisClient(options.connection);
    this.prefix = options.prefix ?? '';
    this.isCluster = this.client instanceof Cluster;
    this.logger = options.logger;
    this.commandTimeoutMs = options.connection?.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    for (const [name, lua] of Object.entries(scripts)) this.client.defineCommand(name, { lua });
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

  /** Runs a command; fails at once while disconnected (nothing is queued, so nothing can hang or replay later). */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    if (this.client.status !== 'ready') throw new StoreUnavailableError(undefined, { cause: new Error(`redis is ${this.client.status}`) });
    try {
      return await run();
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(undefined, { cause: err });
    }
  }

  private script(name: ScriptName, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const run = (this.client as unknown as Record<ScriptName, ScriptCall>)[name];
    return this.call(() => run.call(this.client, keys.length, ...keys, ...args));
  }

  /** Groups full keys by hash tag (Cluster multi-key commands must stay inside one slot). */
  private byTag(keys: readonly string[]): string[][] {
    if (!this.isCluster) return [[...keys]];
    const groups = new Map<string, string[]>();
    for (const key of keys) {
      const tag = hashTagOf(key);
      const group = groups.get(tag);
      if (group) group.push(key);
      else groups.set(tag, [key]);
    }
    return [...groups.values()];
  }

  async get<T>(key: string): Promise<T | undefined> {
    const json = await this.call(() => missOnWrongType(this.client.get(this.k(key)), null));
    return json === null ? undefined : (JSON.parse(json) as T);
  }

  async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    if (keys.length === 0) return [];
    const full = keys.map((key) => this.k(key));
    const values = new Map<string, string | null>();
    await Promise.all(
      this.byTag(full).map(async (group) => {
        const found = await this.call(() => this.client.mget(group));
        group.forEach((key, i) => values.set(key, found[i] ?? null));
      }),
    );
    return full.map((key) => {
      const json = values.get(key);
      return json === null || json === undefined ? undefined : (JSON.parse(json) as T);
    });
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const json = toJson(key, value);
    await this.call(() =>
      ttlMs === undefined ? this.client.set(this.k(key), json) : this.client.set(this.k(key), json, 'PX', pxOf(ttlMs)),
    );
  }

  async setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean> {
    const json = toJson(key, value);
    const reply = await this.call(() => this.client.set(this.k(key), json, 'PX', pxOf(ttlMs), 'NX'));
    return reply === 'OK';
  }

  async take<T>(key: string): Promise<T | undefined> {
    const json = await this.call(() => missOnWrongType(this.client.getdel(this.k(key)), null));
    return json === null ? undefined : (JSON.parse(json) as T);
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const groups = this.byTag(keys.map((key) => this.k(key)));
    await Promise.all(groups.map((group) => this.call(() => this.client.del(group))));
  }

  async deleteIfEquals(key: string, value: unknown): Promise<boolean> {
    return (await this.script('vstDeleteIfEquals', [this.k(key)], [toJson(key, value)])) === 1;
  }

  async assign(key: string, fields: Record<string, unknown>): Promise<boolean> {
    const reply = await this.script('vstAssign', [this.k(key)], [toJson(key, fields).slice(1, -1)]);
    if (reply === -1) throw new TypeError(`value for ${key} is not an object`);
    return reply === 1;
  }

  async ttl(key: string): Promise<number | undefined> {
    const left = await this.call(() => this.client.pttl(this.k(key)));
    if (left === -2) return undefined;
    return left === -1 ? Infinity : left;
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    return Number(await this.script('vstIncrement', [this.k(key)], [pxOf(ttlMs)]));
  }

  async mapGetAll<T>(key: string): Promise<Record<string, T>> {
    const fields = await this.call(() => missOnWrongType(this.client.hgetall(this.k(key)), {}));
    const out: Record<string, T> = {};
    for (const [field, json] of Object.entries(fields)) out[field] = JSON.parse(json) as T;
    return out;
  }

  async batch(ops: readonly WriteOp[]): Promise<void> {
    if (ops.length === 0) return;
    const keys: string[] = [];
    const args: string[] = [];
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
          args.push('m', op.field, toJson(op.key, op.value), op.ttlMs === undefined ? '' : pxOf(op.ttlMs));
          break;
        case 'mapDelete':
          args.push('h', op.field);
          break;
      }
    }
    if (this.isCluster && new Set(keys.map(hashTagOf)).size > 1) {
      throw new Error(`batch keys must share one {hash tag} in Redis Cluster: ${[...new Set(ops.map((op) => op.key))].join(', ')}`);
    }
    await this.script('vstBatch', keys, args);
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.call(() => this.client.publish(this.k(channel), message));
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    if (this.client.status !== 'ready') throw new StoreUnavailableError(undefined, { cause: new Error(`redis is ${this.client.status}`) });
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

/** A key holding a map is no plain value and vice versa: like MGET, reads of the wrong kind are misses, as in the memory store. */
async function missOnWrongType<T>(reply: Promise<T>, miss: T): Promise<T> {
  try {
    return await reply;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('WRONGTYPE')) return miss;
    throw err;
  }
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
