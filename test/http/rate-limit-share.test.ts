// Local shares of the token buckets, on the memory store and Redis: two instances never admit more than the store's bucket, most takes cost no store step, an empty bucket is answered locally until its next token, and a store failure reaches every waiter.
import { afterEach, describe, expect, it } from 'vitest';
import { BucketShares } from '../../src/http/rate-limit-share.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import { StoreUnavailableError, type KeyValueStore, type TokenTake } from '../../src/store/store.js';
import { disposeRedisStore, openRedisStore } from '../helpers/redis.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';

const T0 = 1_700_000_000_000;

/** The store with its takeToken calls counted (what a share saves). */
function counted(store: KeyValueStore): { store: KeyValueStore; calls: () => number } {
  let calls = 0;
  const wrapper = Object.create(store) as KeyValueStore;
  wrapper.takeToken = (...args: Parameters<KeyValueStore['takeToken']>) => {
    calls += 1;
    return store.takeToken(...args);
  };
  return { store: wrapper, calls: () => calls };
}

const allowedOf = (takes: TokenTake[]) => takes.filter((t) => t.allowed).length;

describe.each(STORE_BACKENDS)('rate-limit shares (%s store)', (backend, open) => {
  let stores: KeyValueStore[] = [];
  afterEach(async () => {
    for (const store of stores) await (store instanceof RedisStore ? disposeRedisStore(store) : closeTestStore(store));
    stores = [];
  });

  /** Two instances' stores over the same state (Redis: two clients of one prefix). */
  async function twoStores(): Promise<[KeyValueStore, KeyValueStore]> {
    const first = await open();
    const second = first instanceof MemoryStore ? first : await openRedisStore({ prefix: (first as RedisStore).prefix });
    stores = first === second ? [first] : [second, first];
    return [first, second];
  }

  it(`100 concurrent takes over two instances admit exactly a small bucket; the refusals say when the next token comes (${backend})`, async () => {
    const [one, two] = await twoStores();
    const clock = () => T0;
    const a = new BucketShares(one, clock);
    const b = new BucketShares(two, clock);
    const bucket = { burst: 10, perSecond: 0.01 };
    const takes = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).take('rl:small', bucket)));
    expect(allowedOf(takes)).toBe(10);
    for (const refused of takes.filter((t) => !t.allowed)) expect(refused).toMatchObject({ remaining: 0, retryAfterMs: 100_000 });
  });

  it(`a large bucket is spent through shares: far fewer store steps than requests, never more admitted than it holds (${backend})`, async () => {
    const [one, two] = await twoStores();
    const counters = [counted(one), counted(two)];
    const clock = () => T0;
    const [a, b] = counters.map((c) => new BucketShares(c.store, clock)) as [BucketShares, BucketShares];
    // A slow enough refill that the key outlives the test in real time, even on a loaded machine (the store expires it
    // once it would be full: 6,000 tokens at 64/s is 94 s); shares are then at most 8 tokens (an eighth of 1 s of refill).
    const bucket = { burst: 10_000, perSecond: 64 };
    const takes: TokenTake[] = [];
    for (let i = 0; i < 6000; i++) takes.push(await (i % 2 ? a : b).take('rl:large', bucket));
    expect(allowedOf(takes)).toBe(6000);
    const storeSteps = counters[0]!.calls() + counters[1]!.calls();
    expect(storeSteps).toBeLessThan(6000 / 7);
    // Then a burst larger than what is left: exactly the rest of the bucket is admitted, across both instances.
    const burst = await Promise.all(Array.from({ length: 5000 }, (_, i) => (i % 2 ? a : b).take('rl:large', bucket)));
    expect(allowedOf(burst)).toBe(4000);
  });

  it(`once the store's bucket is empty, refusals are answered locally until its next token is due (${backend})`, async () => {
    const [store] = await twoStores();
    const counter = counted(store);
    let now = T0;
    const shares = new BucketShares(counter.store, () => now);
    const bucket = { burst: 2, perSecond: 1 };
    expect((await shares.take('rl:empty', bucket)).allowed).toBe(true);
    expect((await shares.take('rl:empty', bucket)).allowed).toBe(true);
    expect(await shares.take('rl:empty', bucket)).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    const steps = counter.calls();
    now += 400;
    expect(await shares.take('rl:empty', bucket)).toMatchObject({ allowed: false, retryAfterMs: 600 });
    expect(counter.calls()).toBe(steps);
    now += 600;
    expect(await shares.take('rl:empty', bucket)).toMatchObject({ allowed: true });
    expect(counter.calls()).toBe(steps + 1);
  });

  it(`a share not spent within a second is dropped, never spent later (${backend})`, async () => {
    const [store] = await twoStores();
    const counter = counted(store);
    let now = T0;
    const shares = new BucketShares(counter.store, () => now);
    const bucket = { burst: 800, perSecond: 800 };
    await shares.take('rl:stale', bucket); // learns the store's state (one token)
    await shares.take('rl:stale', bucket); // takes a share of 64 tokens
    expect(counter.calls()).toBe(2);
    await shares.take('rl:stale', bucket);
    expect(counter.calls()).toBe(2);
    now += 1000;
    await shares.take('rl:stale', bucket);
    expect(counter.calls()).toBe(3);
  });

  it(`a changed budget (reload) starts afresh instead of spending the old share (${backend})`, async () => {
    const [store] = await twoStores();
    const counter = counted(store);
    const shares = new BucketShares(counter.store, () => T0);
    await shares.take('rl:reload', { burst: 800, perSecond: 800 });
    await shares.take('rl:reload', { burst: 800, perSecond: 800 });
    const steps = counter.calls();
    expect(await shares.take('rl:reload', { burst: 5, perSecond: 1 })).toMatchObject({ allowed: true });
    expect(counter.calls()).toBe(steps + 1);
  });
});

it('a store failure rejects every request waiting on the take in flight, and the next request asks the store again', async () => {
  const store = new MemoryStore();
  let failing = true;
  const flaky = Object.create(store) as KeyValueStore;
  flaky.takeToken = async (...args: Parameters<KeyValueStore['takeToken']>) => {
    if (failing) throw new StoreUnavailableError();
    return store.takeToken(...args);
  };
  const shares = new BucketShares(flaky, () => T0);
  const bucket = { burst: 5, perSecond: 1 };
  const answers = await Promise.allSettled(Array.from({ length: 5 }, () => shares.take('rl:down', bucket)));
  expect(answers.map((a) => a.status)).toEqual(Array(5).fill('rejected'));
  for (const answer of answers) expect((answer as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
  failing = false;
  expect(await shares.take('rl:down', bucket)).toMatchObject({ allowed: true, remaining: 4 });
  await store.close();
});
