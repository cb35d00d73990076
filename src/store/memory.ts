// In-process KeyValueStore for development and tests: same semantics as the Redis store, values kept as JSON copies.
import type { ClaimResult, KeyValueStore, ScheduleEntry, TokenTake, WriteOp } from './store.js';
import { claimPair, toJson } from './json-text.js';
import { takeFromBucket } from './token-bucket.js';

interface Entry {
  json: string;
  expiresAt: number;
}
interface MapEntry {
  fields: Map<string, string>;
  expiresAt: number;
}

export interface MemoryStoreOptions {
  /** Injected clock (ms since epoch) so tests can move time. */
  now?: () => number;
  /** Sweep interval for expired entries, ms (0 disables). */
  sweepMs?: number;
}

export class MemoryStore implements KeyValueStore {
  readonly kind = 'memory' as const;
  private readonly values = new Map<string, Entry>();
  private readonly maps = new Map<string, MapEntry>();
  /** Time-ordered schedules: member -> due time. */
  private readonly schedules = new Map<string, Map<string, number>>();
  private readonly channels = new Map<string, Set<(message: string) => void>>();
  private readonly now: () => number;
  private readonly sweeper?: NodeJS.Timeout;

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    const sweepMs = options.sweepMs ?? 60_000;
    if (sweepMs > 0) {
      this.sweeper = setInterval(() => this.sweep(), sweepMs);
      this.sweeper.unref();
    }
  }

  private expiry(ttlMs?: number): number {
    return ttlMs === undefined ? Infinity : this.now() + Math.max(1, Math.ceil(ttlMs));
  }

  private live(key: string): Entry | undefined {
    const entry = this.values.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.values.delete(key);
      return undefined;
    }
    return entry;
  }

  private liveMap(key: string): MapEntry | undefined {
    const entry = this.maps.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.maps.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.values) if (entry.expiresAt <= now) this.values.delete(key);
    for (const [key, entry] of this.maps) if (entry.expiresAt <= now) this.maps.delete(key);
  }

  async get<T>(key: string): Promise<T | undefined> {
    const entry = this.live(key);
    return entry ? (JSON.parse(entry.json) as T) : undefined;
  }

  async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return keys.map((key) => {
      const entry = this.live(key);
      return entry ? (JSON.parse(entry.json) as T) : undefined;
    });
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    await this.batch([{ op: 'set', key, value, ttlMs }]);
  }

  async setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean> {
    const json = toJson(key, value);
    if (this.live(key) || this.liveMap(key)) return false;
    this.values.set(key, { json, expiresAt: this.expiry(ttlMs) });
    return true;
  }

  async take<T>(key: string): Promise<T | undefined> {
    const entry = this.live(key);
    this.values.delete(key);
    return entry ? (JSON.parse(entry.json) as T) : undefined;
  }

  async delete(...keys: string[]): Promise<void> {
    for (const key of keys) {
      this.values.delete(key);
      this.maps.delete(key);
      this.schedules.delete(key);
    }
  }

  async deleteIfEquals(key: string, value: unknown): Promise<boolean> {
    const entry = this.live(key);
    if (!entry || entry.json !== JSON.stringify(value)) return false;
    this.values.delete(key);
    return true;
  }

  async takeToken(key: string, capacity: number, refillPerSecond: number, now: number, upTo = 1): Promise<TokenTake> {
    const entry = this.live(key);
    const stored = entry ? (JSON.parse(entry.json) as unknown) : undefined;
    const state = Array.isArray(stored) && typeof stored[0] === 'number' && typeof stored[1] === 'number' ? { tokens: stored[0], at: stored[1] } : undefined;
    const { next, take } = takeFromBucket(state, capacity, refillPerSecond, now, upTo);
    this.values.set(key, { json: JSON.stringify([next.tokens, next.at]), expiresAt: this.expiry(Math.max(1, take.resetMs)) });
    return take;
  }

  async ttl(key: string): Promise<number | undefined> {
    const entry = this.live(key) ?? this.liveMap(key);
    if (!entry) return undefined;
    return entry.expiresAt === Infinity ? Infinity : entry.expiresAt - this.now();
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const entry = this.live(key);
    const next = (entry ? Number(JSON.parse(entry.json)) : 0) + 1;
    this.values.set(key, { json: JSON.stringify(next), expiresAt: entry ? entry.expiresAt : this.expiry(ttlMs) });
    return next;
  }

  async mapGetAll<T>(key: string): Promise<Record<string, T>> {
    const entry = this.liveMap(key);
    const out: Record<string, T> = {};
    if (entry) for (const [field, json] of entry.fields) out[field] = JSON.parse(json) as T;
    return out;
  }

  async mapGet<T>(key: string, field: string): Promise<T | undefined> {
    const json = this.liveMap(key)?.fields.get(field);
    return json === undefined ? undefined : (JSON.parse(json) as T);
  }

  async scheduleAdd(key: string, member: string, dueAt: number): Promise<void> {
    let schedule = this.schedules.get(key);
    if (!schedule) this.schedules.set(key, (schedule = new Map()));
    schedule.set(member, dueAt);
  }

  async scheduleRemove(key: string, member: string): Promise<void> {
    const schedule = this.schedules.get(key);
    schedule?.delete(member);
    if (schedule?.size === 0) this.schedules.delete(key);
  }

  async scheduleTakeDue(key: string, upTo: number, limit: number, leaseMs: number): Promise<ScheduleEntry[]> {
    const schedule = this.schedules.get(key);
    if (!schedule) return [];
    // Redis order: by due time, then by member.
    const due = [...schedule]
      .filter(([, dueAt]) => dueAt <= upTo)
      .sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, Math.max(0, limit));
    for (const [member] of due) schedule.set(member, upTo + leaseMs);
    return due.map(([member, dueAt]) => ({ member, dueAt }));
  }

  async assign(key: string, fields: Record<string, unknown>): Promise<boolean> {
    const additions = toJson(key, fields);
    const entry = this.live(key);
    if (!entry) return false;
    const value: unknown = JSON.parse(entry.json);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`value for ${key} is not an object`);
    entry.json = JSON.stringify(Object.assign(value, JSON.parse(additions)));
    return true;
  }

  async claim(key: string, field: string, value: unknown, alongside?: Record<string, unknown>): Promise<ClaimResult> {
    const pair = claimPair(key, field, value, alongside);
    const entry = this.live(key);
    if (!entry) return 'absent';
    const stored: unknown = JSON.parse(entry.json);
    if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) throw new TypeError(`value for ${key} is not an object`);
    if (Object.hasOwn(stored, field)) return 'taken';
    // Appended as Redis does: the stored text is kept and the new fields come last.
    entry.json = entry.json === '{}' ? `{${pair}}` : `${entry.json.slice(0, -1)},${pair}}`;
    return 'won';
  }

  async batch(ops: readonly WriteOp[]): Promise<void> {
    // Serialise every value first so a bad one fails the whole batch before anything is written.
    const prepared = ops.map((op) => ('value' in op ? { op, json: toJson(op.key, op.value) } : { op, json: '' }));
    for (const { op, json } of prepared) this.apply(op, json);
  }

  private apply(op: WriteOp, json: string): void {
    switch (op.op) {
      case 'set':
        this.maps.delete(op.key);
        this.values.set(op.key, { json, expiresAt: this.expiry(op.ttlMs) });
        return;
      case 'delete':
        this.values.delete(op.key);
        this.maps.delete(op.key);
        return;
      case 'deleteIfEquals':
        if (this.live(op.key)?.json === json) this.values.delete(op.key);
        return;
      case 'mapSet': {
        let entry = this.liveMap(op.key);
        if (!entry) {
          this.values.delete(op.key);
          entry = { fields: new Map(), expiresAt: this.expiry(op.ttlMs) };
          this.maps.set(op.key, entry);
        } else if (entry.expiresAt !== Infinity) {
          entry.expiresAt = Math.max(entry.expiresAt, this.expiry(op.ttlMs));
        }
        entry.fields.set(op.field, json);
        return;
      }
      case 'mapDelete':
      case 'mapPrune': {
        const entry = this.liveMap(op.key);
        if (!entry) return;
        if (op.op === 'mapDelete') entry.fields.delete(op.field);
        else {
          for (const [field, value] of entry.fields) {
            // Number() of JSON text is the number it encodes, and NaN for every other JSON value: no parse per field.
            const expiresAt = Number(value);
            if (expiresAt > 0 && expiresAt <= op.upTo) entry.fields.delete(field);
          }
        }
        if (entry.fields.size === 0) this.maps.delete(op.key);
        return;
      }
    }
  }

  async publish(channel: string, message: string): Promise<void> {
    for (const handler of this.channels.get(channel) ?? []) queueMicrotask(() => handler(message));
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    let handlers = this.channels.get(channel);
    if (!handlers) this.channels.set(channel, (handlers = new Set()));
    handlers.add(handler);
    return async () => {
      handlers.delete(handler);
    };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
