// The KeyValueStore seam: every piece of shared state (oidc-provider models, transactions, vault, locks, counters) goes through it.

/** One write inside an atomic batch (see KeyValueStore.batch). */
export type WriteOp =
  | { op: 'set'; key: string; value: unknown; ttlMs?: number }
  | { op: 'delete'; key: string }
  /** Deletes the key only while it still holds `value` (an index that may have been repointed meanwhile). */
  | { op: 'deleteIfEquals'; key: string; value: unknown }
  | { op: 'mapSet'; key: string; field: string; value: unknown; ttlMs?: number }
  | { op: 'mapDelete'; key: string; field: string }
  /**
   * Deletes, inside the store, the fields of a map of expiry timestamps whose value is a number in (0, upTo]
   * (0 means "never expires"); nothing crosses the wire, however large the map.
   */
  | { op: 'mapPrune'; key: string; upTo: number };

/** A member of a time-ordered schedule and when it is due (ms since epoch). */
export interface ScheduleEntry {
  member: string;
  dueAt: number;
}

/** What a claim of a field found: it won, someone else holds the field, or there is nothing to claim. */
export type ClaimResult = 'won' | 'taken' | 'absent';

/** What one take from a token bucket found (see KeyValueStore.takeToken); times in ms, whole tokens. */
export interface TokenTake {
  /** A token was taken: the request may go on. */
  allowed: boolean;
  /** Tokens taken: 0 when refused, else between 1 and the `upTo` asked for. */
  taken: number;
  /** Whole tokens left in the bucket after this take. */
  remaining: number;
  /** 0 when allowed; otherwise how long until the next token is there. */
  retryAfterMs: number;
  /** How long until the bucket is full again. */
  resetMs: number;
}

/**
 * Values are JSON-serialisable; every implementation stores a copy, never the caller's object.
 * A TTL is in milliseconds; no TTL means the entry lives until deleted.
 * Errors of the backend (connection lost, timeout) reject with StoreUnavailableError: never a silent miss.
 */
export interface KeyValueStore {
  readonly kind: 'memory' | 'redis';
  get<T = unknown>(key: string): Promise<T | undefined>;
  getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]>;
  set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  /** Sets only when the key is absent; true when it was set (locks, replay caches). */
  setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean>;
  /** Reads and deletes in one step; a second take of the same key returns undefined (one-time transactions). */
  take<T = unknown>(key: string): Promise<T | undefined>;
  delete(...keys: string[]): Promise<void>;
  /** Deletes the key only while it still holds `value` (releasing a lock one owns). */
  deleteIfEquals(key: string, value: unknown): Promise<boolean>;
  /**
   * Sets top-level fields of a stored JSON object in place, in one step, keeping its remaining TTL (Object.assign on
   * the stored value); false when the key is absent. Throws TypeError when the stored value is not an object.
   */
  assign(key: string, fields: Record<string, unknown>): Promise<boolean>;
  /**
   * Sets one top-level field of a stored JSON object only when the object does not have it yet, in one step, keeping
   * the TTL: of many concurrent claims of one field exactly one is 'won' (single use of codes and refresh tokens).
   * 'taken' when the field is already present (whatever its value, null included), 'absent' when the key is.
   * `alongside` fields are written in the same step by the winner only (who claimed it, so a caller whose answer was lost
   * can read afterwards whether the claim was its own). Throws TypeError when the stored value is not an object.
   */
  claim(key: string, field: string, value: unknown, alongside?: Record<string, unknown>): Promise<ClaimResult>;
  /**
   * Takes one token from the bucket `key` (holding `capacity` tokens, refilled continuously at `refillPerSecond`), in one
   * step: of many concurrent takes, on any instance, at most the tokens the bucket holds are allowed. `now` (ms) is the
   * caller's clock; a bucket that last moved later than `now` (another instance's clock) is not refilled backwards.
   * An absent bucket is full; the key expires once the bucket would be full again. The key holds the bucket's own
   * encoding: use it with takeToken only. With `upTo` above 1 it takes as many whole tokens as the bucket holds, at most
   * `upTo`, in the same step (an instance's local share, see http/rate-limit-share.ts); allowed when at least one.
   */
  takeToken(key: string, capacity: number, refillPerSecond: number, now: number, upTo?: number): Promise<TokenTake>;
  /** Remaining time to live in ms: undefined when absent, Infinity when it has no TTL. */
  ttl(key: string): Promise<number | undefined>;
  /** Adds 1 and returns the new value; the TTL is set when the counter is created. */
  increment(key: string, ttlMs: number): Promise<number>;
  /** Puts `member` in the time-ordered schedule `key` due at `dueAt` (ms), replacing its previous due time. */
  scheduleAdd(key: string, member: string, dueAt: number): Promise<void>;
  scheduleRemove(key: string, member: string): Promise<void>;
  /**
   * Takes up to `limit` members due at or before `upTo`, earliest first, and in the same step moves each to
   * `upTo + leaseMs`: of concurrent takes each due member goes to exactly one, and comes back due if its taker
   * neither reschedules nor removes it before the lease runs out. Answers the due times they had.
   */
  scheduleTakeDue(key: string, upTo: number, limit: number, leaseMs: number): Promise<ScheduleEntry[]>;
  /** A map of fields; `ttlMs` on mapSet extends the whole map's life to at least that long (never shortens it). */
  mapGetAll<T = unknown>(key: string): Promise<Record<string, T>>;
  /** One field of a map, without reading the others: undefined when the map, the field or a map under the key is absent. */
  mapGet<T = unknown>(key: string, field: string): Promise<T | undefined>;
  /**
   * Applies every op atomically: all of them or none.
   * In Redis Cluster every key of one batch must carry the same hash tag (`{tag}` in the key) so they share a slot.
   */
  batch(ops: readonly WriteOp[]): Promise<void>;
  /** Delivers to every subscriber of the channel, on every instance; two messages may arrive in either order (Cluster). */
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  /** Resolves when the backend answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The backend could not be reached or failed; the request must fail with 503, never be treated as "not found".
 * Shaped like an oidc-provider error (message = OAuth error code, statusCode, expose) so that errors raised inside
 * oidc-provider routes answer 503 `temporarily_unavailable` (RFC 6749 section 4.1.2.1) instead of 500.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  readonly code = 'store_unavailable';
  readonly status = 503;
  readonly statusCode = 503;
  readonly expose = true;
  readonly error = 'temporarily_unavailable';
  readonly error_description: string;
  constructor(description = 'the state store is unavailable', options?: { cause?: unknown }) {
    super('temporarily_unavailable', options);
    this.error_description = description;
  }
}
