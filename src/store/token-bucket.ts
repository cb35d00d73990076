// Token-bucket arithmetic of KeyValueStore.takeToken (the memory store runs it; redis-batch.ts's `k` op is the same in Lua).
import type { TokenTake } from './store.js';

/** A bucket as stored: fractional tokens and when they were counted (ms). */
export interface BucketState {
  tokens: number;
  at: number;
}

/** Whole ms to refill `tokens` (a float a hair above a whole number, 1.0000000000000009, counts as that number). */
const msFor = (tokens: number, refillPerSecond: number) => Math.ceil((tokens * 1000) / refillPerSecond - 1e-9);

/**
 * One take of up to `upTo` whole tokens at `now` (as many as the bucket holds, at most `upTo`): the bucket's next state,
 * what the caller learns, and how long the key must live (until full).
 */
export function takeFromBucket(state: BucketState | undefined, capacity: number, refillPerSecond: number, now: number, upTo = 1): { next: BucketState; take: TokenTake } {
  let tokens = capacity;
  let at = now;
  if (state) {
    tokens = Math.min(capacity, state.tokens + (Math.max(0, now - state.at) * refillPerSecond) / 1000);
    at = Math.max(now, state.at);
  }
  const taken = Math.max(0, Math.min(Math.floor(upTo), Math.floor(tokens)));
  const allowed = taken >= 1;
  tokens -= taken;
  return {
    next: { tokens, at },
    take: {
      allowed,
      taken,
      remaining: Math.floor(tokens),
      retryAfterMs: allowed ? 0 : msFor(1 - tokens, refillPerSecond),
      resetMs: msFor(capacity - tokens, refillPerSecond),
    },
  };
}
