// Token-bucket arithmetic of KeyValueStore.takeToken (the memory store runs it; redis-batch.ts's `k` op is the same in Lua).
import type { TokenTake } from './store.js';

/** A bucket as stored: fractional tokens and when they were counted (ms). */
export interface BucketState {
  tokens: number;
  at: number;
}

/** Whole ms to refill `tokens` (a float a hair above a whole number, 1.0000000000000009, counts as that number). */
const msFor = (tokens: number, refillPerSecond: number) => Math.ceil((tokens * 1000) / refillPerSecond - 1e-9);

/** One take at `now`: the bucket's next state, what the caller learns, and how long the key must live (until full). */
export function takeFromBucket(state: BucketState | undefined, capacity: number, refillPerSecond: number, now: number): { next: BucketState; take: TokenTake } {
  let tokens = capacity;
  let at = now;
  if (state) {
    tokens = Math.min(capacity, state.tokens + (Math.max(0, now - state.at) * refillPerSecond) / 1000);
    at = Math.max(now, state.at);
  }
  const allowed = tokens >= 1;
  if (allowed) tokens -= 1;
  return {
    next: { tokens, at },
    take: {
      allowed,
      remaining: Math.floor(tokens),
      retryAfterMs: allowed ? 0 : msFor(1 - tokens, refillPerSecond),
      resetMs: msFor(capacity - tokens, refillPerSecond),
    },
  };
}
