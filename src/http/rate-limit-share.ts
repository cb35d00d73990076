// Local shares of the store's token buckets: an instance takes a few tokens in one store step and spends them in process, so most limited requests cost no store round trip; near exhaustion every request asks the store.
import type { KeyValueStore, TokenTake } from '../store/store.js';
import type { Bucket } from './rate-limit-policy.js';

/** A share is at most this fraction of the whole tokens the store's bucket held at the last take... */
const SHARE_OF_REMAINING = 1 / 8;
/** ...at most this fraction of one second's refill (so a share spent late moves at most that much refill)... */
const SHARE_OF_REFILL = 1 / 8;
/** ...and at most this many tokens. */
const MAX_SHARE = 64;
/** Tokens of a share not spent within this time are dropped (never handed back: the budget only ever shrinks). */
const SHARE_LIFETIME_MS = 1000;
/** Above this many buckets in memory, idle ones are forgotten (forgetting a share only loses its tokens). */
const MAX_BUCKETS = 10_000;

interface Waiter {
  resolve(take: TokenTake): void;
  reject(error: unknown): void;
}

/** What this instance knows of one bucket. */
interface LocalBucket {
  capacity: number;
  perSecond: number;
  /** Whole tokens taken from the store and not spent yet. */
  tokens: number;
  /** The share's tokens are dropped at this time. */
  usableUntil: number;
  /** The store's bucket holds no whole token before this time (only time refills it, so this is exact). */
  emptyUntil: number;
  /** Whole tokens the store's bucket held after the last take; undefined before the first. */
  storeRemaining: number | undefined;
  /** When the store's bucket is full again, as of the last take. */
  fullAt: number;
  /** Requests waiting for the take in flight (at most one per bucket and instance). */
  waiting: Waiter[];
  fetching: boolean;
}

/** How many tokens the next take asks for: 1 until the store's state is known, then a small share of what is left. */
function shareSize(bucket: LocalBucket, waiting: number): number {
  if (bucket.storeRemaining === undefined) return Math.max(1, waiting);
  const cap = Math.min(MAX_SHARE, Math.floor(bucket.perSecond * SHARE_OF_REFILL * (SHARE_LIFETIME_MS / 1000)));
  const share = Math.min(cap, Math.floor(bucket.storeRemaining * SHARE_OF_REMAINING));
  return Math.max(1, waiting, share);
}

/**
 * Token buckets in the store, spent through local shares. Across instances the store's bucket is never exceeded (a
 * share is taken from it atomically); a share spent up to SHARE_LIFETIME_MS after it was taken moves at most an eighth
 * of one second's refill in time. While the store's bucket is empty, refusals are answered locally until its next token.
 */
export class BucketShares {
  private readonly buckets = new Map<string, LocalBucket>();

  constructor(
    private readonly store: KeyValueStore,
    private readonly now: () => number,
  ) {}

  /** Takes one token of `key`'s bucket: locally when this instance holds some, else from the store. */
  take(key: string, limit: Bucket): TokenTake | Promise<TokenTake> {
    const now = this.now();
    const bucket = this.bucketOf(key, limit, now);
    const local = this.spendLocally(bucket, now);
    if (local) return local;
    return new Promise((resolve, reject) => {
      bucket.waiting.push({ resolve, reject });
      if (!bucket.fetching) void this.fetch(key, bucket);
    });
  }

  /** A token from the share in hand, or the store's emptiness known until its next token; undefined: ask the store. */
  private spendLocally(bucket: LocalBucket, now: number): TokenTake | undefined {
    if (bucket.tokens >= 1 && now < bucket.usableUntil) {
      bucket.tokens -= 1;
      return { allowed: true, taken: 1, remaining: (bucket.storeRemaining ?? 0) + bucket.tokens, retryAfterMs: 0, resetMs: Math.max(0, bucket.fullAt - now) };
    }
    if (now < bucket.emptyUntil) {
      const retryAfterMs = bucket.emptyUntil - now;
      return { allowed: false, taken: 0, remaining: 0, retryAfterMs, resetMs: Math.max(retryAfterMs, bucket.fullAt - now) };
    }
    return undefined;
  }

  /** One store take for every request waiting on this bucket; those a share does not cover ask again. */
  private async fetch(key: string, bucket: LocalBucket): Promise<void> {
    bucket.fetching = true;
    const upTo = shareSize(bucket, bucket.waiting.length);
    let take: TokenTake;
    try {
      take = await this.store.takeToken(key, bucket.capacity, bucket.perSecond, this.now(), upTo);
    } catch (error) {
      bucket.fetching = false;
      for (const waiter of bucket.waiting.splice(0)) waiter.reject(error);
      return;
    }
    const now = this.now();
    bucket.fetching = false;
    bucket.storeRemaining = take.remaining;
    bucket.fullAt = now + take.resetMs;
    bucket.tokens = take.taken;
    bucket.usableUntil = now + SHARE_LIFETIME_MS;
    if (!take.allowed) bucket.emptyUntil = now + take.retryAfterMs;
    const waiting = bucket.waiting.splice(0);
    for (const [i, waiter] of waiting.entries()) {
      const answer = this.spendLocally(bucket, now);
      if (!answer) {
        // The store had fewer whole tokens than asked for: the others ask again and learn when the next one comes.
        bucket.waiting.push(...waiting.slice(i));
        void this.fetch(key, bucket);
        return;
      }
      waiter.resolve(answer);
    }
  }

  private bucketOf(key: string, limit: Bucket, now: number): LocalBucket {
    const known = this.buckets.get(key);
    if (known && known.capacity === limit.burst && known.perSecond === limit.perSecond) return known;
    if (!known && this.buckets.size >= MAX_BUCKETS) this.forgetIdle(now);
    const bucket: LocalBucket = {
      capacity: limit.burst,
      perSecond: limit.perSecond,
      tokens: 0,
      usableUntil: 0,
      emptyUntil: 0,
      storeRemaining: undefined,
      fullAt: 0,
      // A changed budget (reload) starts afresh; a take in flight for the old one answers its own waiters.
      waiting: [],
      fetching: false,
    };
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** Forgets buckets with nothing in hand; when that frees too little (a flood of new addresses), every idle one. */
  private forgetIdle(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (!bucket.fetching && now >= bucket.usableUntil && now >= bucket.emptyUntil) this.buckets.delete(key);
    }
    if (this.buckets.size < MAX_BUCKETS / 2) return;
    for (const [key, bucket] of this.buckets) if (!bucket.fetching) this.buckets.delete(key);
  }
}
