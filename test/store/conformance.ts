// One conformance suite for the KeyValueStore interface; every backend (memory, Redis, Redis Cluster) runs it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/store/store.js';
import type { KeyValueStore, WriteOp } from '../../src/store/store.js';

export interface ConformanceOptions {
  /** Releases a store made by makeStore (default: close()). */
  disposeStore?: (store: KeyValueStore) => Promise<void>;
  /** A store of this backend whose server cannot be reached: every call must reject with StoreUnavailableError. */
  makeUnreachableStore?: () => Promise<KeyValueStore>;
  /**
   * Another client of the same data as `store` (Redis: its own connection, same prefix), for races between instances;
   * disposed by the caller before `store`. Default: the store itself (memory has no other client).
   */
  makeSibling?: (store: KeyValueStore) => Promise<KeyValueStore>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds (pub/sub delivery is asynchronous); fails after a generous bound. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (check()) return;
    await sleep(10);
  }
  throw new Error(`never happened: ${what}`);
}

export function runStoreConformance(name: string, makeStore: () => Promise<KeyValueStore>, options: ConformanceOptions = {}): void {
  const dispose = options.disposeStore ?? ((store: KeyValueStore) => store.close());

  describe(`KeyValueStore conformance: ${name}`, () => {
    let store: KeyValueStore;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await dispose(store);
    });

    describe('get / set', () => {
      it('round-trips every JSON type and misses absent keys', async () => {
        const value = { s: 'x', n: 1.5, big: 1_700_000_000_123, t: true, f: false, z: null, a: [1, 'two', { three: 3 }, []], o: { nested: { deep: 'yes' } }, e: {} };
        await store.set('doc', value);
        await store.set('str', 'plain');
        await store.set('num', 0);
        await store.set('nil', null);
        expect(await store.get('doc')).toEqual(value);
        expect(await store.get('str')).toBe('plain');
        expect(await store.get('num')).toBe(0);
        expect(await store.get('nil')).toBeNull();
        expect(await store.get('absent')).toBeUndefined();
      });

      it('stores a copy: later changes to the written or the read object do not leak into the store', async () => {
        const value = { list: [1], inner: { a: 1 } };
        await store.set('copy', value);
        value.list.push(2);
        value.inner.a = 9;
        const read = await store.get<typeof value>('copy');
        expect(read).toEqual({ list: [1], inner: { a: 1 } });
        read!.inner.a = 5;
        expect(await store.get('copy')).toEqual({ list: [1], inner: { a: 1 } });
      });

      it('rejects values JSON cannot represent and writes nothing', async () => {
        await expect(store.set('bad', undefined)).rejects.toThrow(TypeError);
        await expect(store.set('bad', 10n)).rejects.toThrow(TypeError);
        expect(await store.get('bad')).toBeUndefined();
      });

      it('getMany returns values in key order with undefined for misses', async () => {
        await store.set('m:{a}:1', 1);
        await store.set('m:{b}:2', { two: 2 });
        await store.set('m:{c}:3', 'three');
        expect(await store.getMany(['m:{c}:3', 'm:{x}:missing', 'm:{a}:1', 'm:{b}:2'])).toEqual(['three', undefined, 1, { two: 2 }]);
        expect(await store.getMany([])).toEqual([]);
      });

      it('overwriting replaces the value and its TTL', async () => {
        await store.set('over', 1, 60_000);
        await store.set('over', 2);
        expect(await store.get('over')).toBe(2);
        expect(await store.ttl('over')).toBe(Infinity);
        await store.set('over', 3, 30_000);
        const ttl = await store.ttl('over');
        expect(ttl).toBeGreaterThan(20_000);
        expect(ttl).toBeLessThanOrEqual(30_000);
      });
    });

    describe('TTL', () => {
      it('reports undefined for absent keys, Infinity without TTL, the remaining ms otherwise', async () => {
        expect(await store.ttl('nothing')).toBeUndefined();
        await store.set('forever', 1);
        expect(await store.ttl('forever')).toBe(Infinity);
        await store.set('minute', 1, 60_000);
        const ttl = await store.ttl('minute');
        expect(ttl).toBeGreaterThan(50_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      });

      it('expires entries after their TTL', async () => {
        await store.set('short', 'gone soon', 40);
        await store.set('long', 'stays', 60_000);
        expect(await store.get('short')).toBe('gone soon');
        await sleep(150);
        expect(await store.get('short')).toBeUndefined();
        expect(await store.ttl('short')).toBeUndefined();
        expect(await store.getMany(['short', 'long'])).toEqual([undefined, 'stays']);
        expect(await store.take('short')).toBeUndefined();
      });

      it('treats a zero or fractional TTL as a positive one (never "no expiry")', async () => {
        await store.set('zero', 1, 0);
        await store.set('fraction', 1, 0.3);
        await sleep(60);
        expect(await store.get('zero')).toBeUndefined();
        expect(await store.get('fraction')).toBeUndefined();
      });
    });

    describe('setIfAbsent', () => {
      it('sets only when absent, with its TTL, and again after expiry or delete', async () => {
        expect(await store.setIfAbsent('lock', 'owner-1', 60_000)).toBe(true);
        expect(await store.setIfAbsent('lock', 'owner-2', 60_000)).toBe(false);
        expect(await store.get('lock')).toBe('owner-1');
        expect(await store.ttl('lock')).toBeGreaterThan(50_000);
        await store.delete('lock');
        expect(await store.setIfAbsent('lock', 'owner-3', 40)).toBe(true);
        await sleep(150);
        expect(await store.setIfAbsent('lock', 'owner-4', 60_000)).toBe(true);
        expect(await store.get('lock')).toBe('owner-4');
      });

      it('is false while a map lives under the key', async () => {
        await store.batch([{ op: 'mapSet', key: 'maplock', field: 'f', value: 1, ttlMs: 60_000 }]);
        expect(await store.setIfAbsent('maplock', 'x', 60_000)).toBe(false);
      });

      it('lets exactly one of many concurrent callers win', async () => {
        const results = await Promise.all(Array.from({ length: 25 }, (_, i) => store.setIfAbsent('race', `caller-${i}`, 60_000)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.get('race')).toBe(`caller-${results.indexOf(true)}`);
      });
    });

    describe('take', () => {
      it('returns the value once and removes it', async () => {
        await store.set('txn', { state: 's' }, 60_000);
        expect(await store.take('txn')).toEqual({ state: 's' });
        expect(await store.take('txn')).toBeUndefined();
        expect(await store.get('txn')).toBeUndefined();
        expect(await store.take('never')).toBeUndefined();
      });

      it('gives the value to exactly one of many concurrent takers', async () => {
        await store.set('once', 'prize', 60_000);
        const results = await Promise.all(Array.from({ length: 25 }, () => store.take('once')));
        expect(results.filter((r) => r !== undefined)).toEqual(['prize']);
      });
    });

    describe('delete / deleteIfEquals / assign', () => {
      it('deletes values and maps, many at once, ignoring absent keys', async () => {
        await store.set('d:{a}', 1);
        await store.set('d:{b}', 2);
        await store.batch([{ op: 'mapSet', key: 'd:{c}', field: 'f', value: 1 }]);
        await store.delete('d:{a}', 'd:{b}', 'd:{c}', 'd:{absent}');
        expect(await store.getMany(['d:{a}', 'd:{b}'])).toEqual([undefined, undefined]);
        expect(await store.mapGetAll('d:{c}')).toEqual({});
        await store.delete();
      });

      it('deleteIfEquals deletes only while the key holds the given value', async () => {
        await store.set('owned', { owner: 'me', n: 1 }, 60_000);
        expect(await store.deleteIfEquals('owned', { owner: 'you', n: 1 })).toBe(false);
        expect(await store.get('owned')).toEqual({ owner: 'me', n: 1 });
        expect(await store.deleteIfEquals('owned', { owner: 'me', n: 1 })).toBe(true);
        expect(await store.get('owned')).toBeUndefined();
        expect(await store.deleteIfEquals('owned', { owner: 'me', n: 1 })).toBe(false);
      });

      it('assign sets top-level fields in place, keeping the TTL and every other field exactly', async () => {
        const doc = { v: 1, list: [], nested: { a: [1, 2] }, big: 1732000000123, tiny: 0.1, text: 'x}' };
        await store.set('doc', doc, 60_000);
        expect(await store.assign('doc', { consumed: 1700000000, v: 2 })).toBe(true);
        const after = await store.get<Record<string, unknown>>('doc');
        expect(after).toEqual({ ...doc, v: 2, consumed: 1700000000 });
        expect(Object.keys(after!)).toEqual(['v', 'list', 'nested', 'big', 'tiny', 'text', 'consumed']);
        expect(await store.assign('doc', { v: 3 })).toBe(true);
        expect(await store.get('doc')).toEqual({ ...doc, v: 3, consumed: 1700000000 });
        const ttl = await store.ttl('doc');
        expect(ttl).toBeGreaterThan(50_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
        await store.set('empty-forever', {});
        expect(await store.assign('empty-forever', { a: 1 })).toBe(true);
        expect(await store.get('empty-forever')).toEqual({ a: 1 });
        expect(await store.ttl('empty-forever')).toBe(Infinity);
      });

      it('assign never creates an absent or expired key, and refuses a value that is not an object', async () => {
        expect(await store.assign('nobody', { v: 1 })).toBe(false);
        expect(await store.get('nobody')).toBeUndefined();
        await store.set('expiring', { v: 1 }, 40);
        await sleep(150);
        expect(await store.assign('expiring', { v: 2 })).toBe(false);
        expect(await store.get('expiring')).toBeUndefined();
        await store.set('a-list', [1, 2], 60_000);
        await expect(store.assign('a-list', { v: 1 })).rejects.toThrow(TypeError);
        await store.set('a-string', '{not json}', 60_000);
        await expect(store.assign('a-string', { v: 1 })).rejects.toThrow(TypeError);
        expect(await store.get('a-string')).toBe('{not json}');
        await store.batch([{ op: 'mapSet', key: 'a-map', field: 'f', value: 1 }]);
        expect(await store.assign('a-map', { v: 1 })).toBe(false);
      });

      it('assign loses no field under concurrent writers', async () => {
        await store.set('fields-doc', { n: 0 }, 60_000);
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.assign('fields-doc', { [`f${i}`]: i })));
        const after = await store.get<Record<string, number>>('fields-doc');
        expect(Object.keys(after!).length).toBe(21);
        for (let i = 0; i < 20; i++) expect(after![`f${i}`]).toBe(i);
      });
    });

    describe('claim', () => {
      it('sets the field only when the object lacks it, keeping the TTL and every other field exactly', async () => {
        const doc = { v: 1, list: [], nested: { consumed: 5 }, big: 1732000000123, tiny: 0.1, text: 'x}' };
        await store.set('token', doc, 60_000);
        expect(await store.claim('token', 'consumed', 1700000000)).toBe('won');
        const after = await store.get<Record<string, unknown>>('token');
        expect(after).toEqual({ ...doc, consumed: 1700000000 });
        expect(Object.keys(after!)).toEqual(['v', 'list', 'nested', 'big', 'tiny', 'text', 'consumed']);
        expect(await store.claim('token', 'consumed', 1800000000)).toBe('taken');
        expect(await store.get('token')).toEqual({ ...doc, consumed: 1700000000 });
        const ttl = await store.ttl('token');
        expect(ttl).toBeGreaterThan(50_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
        // A field another step set (assign) counts as taken, whatever its value; other fields can still be claimed.
        await store.set('other', { a: 1 });
        await store.assign('other', { consumed: null });
        expect(await store.claim('other', 'consumed', 1)).toBe('taken');
        expect(await store.claim('other', 'by', { who: 'me', at: [1, 2] })).toBe('won');
        expect(await store.get('other')).toEqual({ a: 1, consumed: null, by: { who: 'me', at: [1, 2] } });
        expect(await store.ttl('other')).toBe(Infinity);
        await store.set('empty', {}, 60_000);
        expect(await store.claim('empty', 'consumed', 7)).toBe('won');
        expect(await store.get('empty')).toEqual({ consumed: 7 });
      });

      it('writes the alongside fields with a winning claim only, so the winner can be told apart afterwards', async () => {
        await store.set('rotated', { grantId: 'g' }, 60_000);
        expect(await store.claim('rotated', 'consumed', 1700000000, { consumedBy: 'request-a', note: { n: [1] } })).toBe('won');
        expect(await store.claim('rotated', 'consumed', 1800000000, { consumedBy: 'request-b' })).toBe('taken');
        const after = await store.get<Record<string, unknown>>('rotated');
        expect(after).toEqual({ grantId: 'g', consumed: 1700000000, consumedBy: 'request-a', note: { n: [1] } });
        expect(Object.keys(after!)).toEqual(['grantId', 'consumed', 'consumedBy', 'note']);
        await store.set('fresh', {}, 60_000);
        expect(await store.claim('fresh', 'consumed', 2, { consumedBy: 'x' })).toBe('won');
        expect(await store.get('fresh')).toEqual({ consumed: 2, consumedBy: 'x' });
        expect(await store.claim('nobody-there', 'consumed', 1, { consumedBy: 'y' })).toBe('absent');
        await expect(store.claim('fresh', 'other', 1, { other: 2 })).rejects.toThrow(TypeError);
        await expect(store.claim('fresh', 'other', 1, { bad: undefined })).rejects.toThrow(TypeError);
        expect(await store.get('fresh')).toEqual({ consumed: 2, consumedBy: 'x' });
      });

      it('never creates an absent or expired key, and refuses a value that is not an object', async () => {
        expect(await store.claim('nobody', 'consumed', 1)).toBe('absent');
        expect(await store.get('nobody')).toBeUndefined();
        await store.set('expiring', { v: 1 }, 40);
        await sleep(150);
        expect(await store.claim('expiring', 'consumed', 1)).toBe('absent');
        expect(await store.get('expiring')).toBeUndefined();
        await store.batch([{ op: 'mapSet', key: 'a-map', field: 'consumed', value: 1 }]);
        expect(await store.claim('a-map', 'consumed', 1)).toBe('absent');
        await store.set('a-list', [1, 2], 60_000);
        await expect(store.claim('a-list', 'consumed', 1)).rejects.toThrow(TypeError);
        await store.set('a-string', '{not json}', 60_000);
        await expect(store.claim('a-string', 'consumed', 1)).rejects.toThrow(TypeError);
        expect(await store.get('a-string')).toBe('{not json}');
        await expect(store.claim('token', 'consumed', undefined)).rejects.toThrow(TypeError);
      });

      it('lets exactly one of many concurrent claims win, from several clients at once', async () => {
        const siblings = options.makeSibling ? await Promise.all([1, 2, 3].map(() => options.makeSibling!(store))) : [];
        try {
          const clients = [store, ...siblings];
          for (let round = 0; round < 5; round++) {
            const key = `contested-${round}`;
            await store.set(key, { grantId: 'g', round }, 60_000);
            const attempts = clients.flatMap((client, c) => Array.from({ length: 10 }, (_, i) => ({ client, by: `client-${c}-${i}` })));
            const results = await Promise.all(attempts.map(({ client, by }) => client.claim(key, 'by', by)));
            expect(results.filter((r) => r === 'won'), `round ${round}`).toHaveLength(1);
            expect(results.filter((r) => r === 'taken')).toHaveLength(attempts.length - 1);
            expect(await store.get(key)).toEqual({ grantId: 'g', round, by: attempts[results.indexOf('won')]!.by });
          }
        } finally {
          for (const sibling of siblings) if (sibling !== store) await sibling.close();
        }
      });
    });

    describe('takeToken', () => {
      const T0 = 1_700_000_000_000;

      it('allows the capacity from a full bucket, then refuses with the time until the next token', async () => {
        const takes = [];
        for (let i = 0; i < 4; i++) takes.push(await store.takeToken('bucket', 3, 2, T0));
        expect(takes.map((t) => t.allowed)).toEqual([true, true, true, false]);
        expect(takes.map((t) => t.remaining)).toEqual([2, 1, 0, 0]);
        expect(takes[0]).toMatchObject({ retryAfterMs: 0, resetMs: 500 });
        expect(takes[3]).toMatchObject({ retryAfterMs: 500, resetMs: 1500 });
      });

      it('refills at the rate, never above the capacity', async () => {
        for (let i = 0; i < 3; i++) await store.takeToken('refill', 3, 2, T0);
        expect(await store.takeToken('refill', 3, 2, T0 + 499)).toMatchObject({ allowed: false, retryAfterMs: 1 });
        expect(await store.takeToken('refill', 3, 2, T0 + 500)).toMatchObject({ allowed: true, remaining: 0 });
        expect(await store.takeToken('refill', 3, 2, T0 + 60_000)).toMatchObject({ allowed: true, remaining: 2 });
      });

      it('does not refill when a caller\'s clock is behind the one that last moved the bucket', async () => {
        await store.takeToken('skew', 1, 1, T0 + 10_000);
        expect(await store.takeToken('skew', 1, 1, T0)).toMatchObject({ allowed: false, retryAfterMs: 1000 });
      });

      it('takes up to upTo whole tokens in one step, as many as the bucket holds, and refuses an empty bucket', async () => {
        expect(await store.takeToken('share', 10, 2, T0, 4)).toMatchObject({ allowed: true, taken: 4, remaining: 6, resetMs: 2000 });
        expect(await store.takeToken('share', 10, 2, T0, 1)).toMatchObject({ allowed: true, taken: 1, remaining: 5 });
        expect(await store.takeToken('share', 10, 2, T0 + 250, 8)).toMatchObject({ allowed: true, taken: 5, remaining: 0 });
        // Half a token is left (refilled over 250 ms): none is whole, so nothing is taken; the next whole one is 250 ms away.
        expect(await store.takeToken('share', 10, 2, T0 + 250, 8)).toMatchObject({ allowed: false, taken: 0, remaining: 0, retryAfterMs: 250 });
        expect(await store.takeToken('share', 10, 2, T0 + 500, 8)).toMatchObject({ allowed: true, taken: 1, remaining: 0 });
      });

      it('lets the key expire once the bucket would be full again', async () => {
        await store.takeToken('expiring', 2, 1, Date.now());
        const ttl = await store.ttl('expiring');
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(1000);
      });

      it('allows exactly the capacity of many concurrent takes from several clients at once', async () => {
        const siblings = options.makeSibling ? await Promise.all([1, 2, 3].map(() => options.makeSibling!(store))) : [];
        try {
          const clients = [store, ...siblings];
          const takes = await Promise.all(clients.flatMap((client) => Array.from({ length: 25 }, () => client.takeToken('contested-bucket', 10, 0.001, T0))));
          expect(takes.filter((t) => t.allowed)).toHaveLength(10);
          expect(takes.filter((t) => !t.allowed).every((t) => t.retryAfterMs > 0)).toBe(true);
          // Takes of several tokens at once share the same capacity: 100 tokens, asked for 3 at a time by 60 takes.
          const shares = await Promise.all(clients.flatMap((client) => Array.from({ length: 60 / clients.length }, () => client.takeToken('contested-shares', 100, 0.001, T0, 3))));
          expect(shares.reduce((sum, t) => sum + t.taken, 0)).toBe(100);
          expect(shares.filter((t) => t.taken === 1)).toHaveLength(1);
        } finally {
          for (const sibling of siblings) if (sibling !== store) await sibling.close();
        }
      });
    });

    describe('increment', () => {
      it('counts from 1 and sets the TTL only when the counter is created', async () => {
        expect(await store.increment('hits', 60_000)).toBe(1);
        expect(await store.increment('hits', 10)).toBe(2);
        expect(await store.increment('hits', 10)).toBe(3);
        await sleep(60);
        expect(await store.get('hits')).toBe(3);
        const ttl = await store.ttl('hits');
        expect(ttl).toBeGreaterThan(50_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      });

      it('starts again at 1 after the counter expires', async () => {
        expect(await store.increment('window', 40)).toBe(1);
        await sleep(150);
        expect(await store.increment('window', 60_000)).toBe(1);
      });

      it('loses no increment under concurrency', async () => {
        const values = await Promise.all(Array.from({ length: 50 }, () => store.increment('busy', 60_000)));
        expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      });
    });

    describe('maps', () => {
      it('mapPrune drops the fields whose expiry is in (0, upTo], keeps the rest, and removes an emptied map', async () => {
        await store.batch([
          { op: 'mapSet', key: 'expiries', field: 'gone', value: 1000, ttlMs: 60_000 },
          { op: 'mapSet', key: 'expiries', field: 'edge', value: 2000, ttlMs: 60_000 },
          { op: 'mapSet', key: 'expiries', field: 'later', value: 2001, ttlMs: 60_000 },
          { op: 'mapSet', key: 'expiries', field: 'never', value: 0, ttlMs: 60_000 },
          { op: 'mapSet', key: 'expiries', field: 'not-a-time', value: { at: 1 }, ttlMs: 60_000 },
        ]);
        await store.batch([{ op: 'mapPrune', key: 'expiries', upTo: 2000 }]);
        await store.batch([{ op: 'mapPrune', key: 'absent-map', upTo: 2000 }]);
        expect(await store.mapGetAll('expiries')).toEqual({ later: 2001, never: 0, 'not-a-time': { at: 1 } });
        await store.batch([{ op: 'mapSet', key: 'short-lived', field: 'a', value: 5, ttlMs: 60_000 }]);
        await store.batch([{ op: 'mapPrune', key: 'short-lived', upTo: 5 }]);
        expect(await store.ttl('short-lived')).toBeUndefined();
        await store.set('plain', 7);
        await store.batch([{ op: 'mapPrune', key: 'plain', upTo: 10 }]);
        expect(await store.get('plain')).toBe(7);
      });

      it('mapSet / mapDelete / mapGetAll, with the map removed when its last field goes', async () => {
        expect(await store.mapGetAll('idx')).toEqual({});
        await store.batch([
          { op: 'mapSet', key: 'idx', field: 'a', value: 1, ttlMs: 60_000 },
          { op: 'mapSet', key: 'idx', field: 'b', value: { two: 2 }, ttlMs: 60_000 },
        ]);
        expect(await store.mapGetAll('idx')).toEqual({ a: 1, b: { two: 2 } });
        await store.batch([{ op: 'mapSet', key: 'idx', field: 'a', value: 'one', ttlMs: 60_000 }]);
        await store.batch([{ op: 'mapDelete', key: 'idx', field: 'b' }]);
        expect(await store.mapGetAll('idx')).toEqual({ a: 'one' });
        await store.batch([{ op: 'mapDelete', key: 'idx', field: 'a' }]);
        await store.batch([{ op: 'mapDelete', key: 'absent-map', field: 'x' }]);
        expect(await store.mapGetAll('idx')).toEqual({});
        expect(await store.ttl('idx')).toBeUndefined();
      });

      it('mapGet reads one field: its value, or undefined for an absent field, map, expired map or plain value', async () => {
        await store.batch([
          { op: 'mapSet', key: 'one-of', field: 'a', value: 1796000000000, ttlMs: 60_000 },
          { op: 'mapSet', key: 'one-of', field: 'b', value: { two: [2] }, ttlMs: 60_000 },
          { op: 'mapSet', key: 'one-of', field: 'zero', value: 0, ttlMs: 60_000 },
        ]);
        expect(await store.mapGet('one-of', 'a')).toBe(1796000000000);
        expect(await store.mapGet('one-of', 'b')).toEqual({ two: [2] });
        expect(await store.mapGet('one-of', 'zero')).toBe(0);
        expect(await store.mapGet('one-of', 'missing')).toBeUndefined();
        expect(await store.mapGet('no-such-map', 'a')).toBeUndefined();
        await store.batch([{ op: 'mapDelete', key: 'one-of', field: 'a' }]);
        expect(await store.mapGet('one-of', 'a')).toBeUndefined();
        expect(await store.mapGet('one-of', 'zero')).toBe(0);
        await store.set('plain-value', { a: 1 });
        expect(await store.mapGet('plain-value', 'a')).toBeUndefined();
        await store.batch([{ op: 'mapSet', key: 'short-map', field: 'a', value: 1, ttlMs: 40 }]);
        await sleep(150);
        expect(await store.mapGet('short-map', 'a')).toBeUndefined();
      });

      it('mapGet returns a copy: changing what it returned does not change the stored field', async () => {
        await store.batch([{ op: 'mapSet', key: 'copied', field: 'f', value: { n: 1 } }]);
        const read = await store.mapGet<{ n: number }>('copied', 'f');
        read!.n = 2;
        expect(await store.mapGet('copied', 'f')).toEqual({ n: 1 });
      });

      it('mapSet extends the map TTL to at least its own and never shortens it', async () => {
        await store.batch([{ op: 'mapSet', key: 'grow', field: 'a', value: 1, ttlMs: 1_000 }]);
        await store.batch([{ op: 'mapSet', key: 'grow', field: 'b', value: 1, ttlMs: 60_000 }]);
        expect(await store.ttl('grow')).toBeGreaterThan(50_000);
        await store.batch([{ op: 'mapSet', key: 'grow', field: 'c', value: 1, ttlMs: 1_000 }]);
        expect(await store.ttl('grow')).toBeGreaterThan(50_000);

        await store.batch([{ op: 'mapSet', key: 'keep', field: 'a', value: 1 }]);
        await store.batch([{ op: 'mapSet', key: 'keep', field: 'b', value: 1, ttlMs: 1_000 }]);
        expect(await store.ttl('keep')).toBe(Infinity);

        await store.batch([{ op: 'mapSet', key: 'forever', field: 'a', value: 1, ttlMs: 1_000 }]);
        await store.batch([{ op: 'mapSet', key: 'forever', field: 'b', value: 1 }]);
        expect(await store.ttl('forever')).toBe(Infinity);
      });

      it('expires a map with its TTL', async () => {
        await store.batch([{ op: 'mapSet', key: 'brief', field: 'a', value: 1, ttlMs: 40 }]);
        await sleep(150);
        expect(await store.mapGetAll('brief')).toEqual({});
        expect(await store.ttl('brief')).toBeUndefined();
      });

      it('set over a map and mapSet over a value replace what was there', async () => {
        await store.batch([{ op: 'mapSet', key: 'shape', field: 'a', value: 1 }]);
        await store.set('shape', 'now a value');
        expect(await store.get('shape')).toBe('now a value');
        expect(await store.mapGetAll('shape')).toEqual({});
        await store.batch([{ op: 'mapSet', key: 'shape', field: 'b', value: 2, ttlMs: 60_000 }]);
        expect(await store.mapGetAll('shape')).toEqual({ b: 2 });
      });
    });

    describe('batch', () => {
      it('applies every op in order', async () => {
        await store.set('b:{t}:old', 'old');
        await store.set('b:{t}:index', 'id-1');
        await store.set('b:{t}:repointed', 'id-2');
        const ops: WriteOp[] = [
          { op: 'set', key: 'b:{t}:doc', value: { id: 1 }, ttlMs: 60_000 },
          { op: 'set', key: 'b:{t}:forever', value: 'f' },
          { op: 'delete', key: 'b:{t}:old' },
          { op: 'deleteIfEquals', key: 'b:{t}:index', value: 'id-1' },
          { op: 'deleteIfEquals', key: 'b:{t}:repointed', value: 'id-1' },
          { op: 'mapSet', key: 'b:{t}:map', field: 'x', value: [1], ttlMs: 60_000 },
          { op: 'set', key: 'b:{t}:temp', value: 1 },
          { op: 'delete', key: 'b:{t}:temp' },
          { op: 'delete', key: 'b:{t}:again' },
          { op: 'set', key: 'b:{t}:again', value: 'last write wins' },
        ];
        await store.batch(ops);
        expect(await store.getMany(['b:{t}:doc', 'b:{t}:forever', 'b:{t}:old', 'b:{t}:index', 'b:{t}:repointed', 'b:{t}:temp', 'b:{t}:again'])).toEqual([
          { id: 1 }, 'f', undefined, undefined, 'id-2', undefined, 'last write wins',
        ]);
        expect(await store.ttl('b:{t}:doc')).toBeGreaterThan(50_000);
        expect(await store.ttl('b:{t}:forever')).toBe(Infinity);
        expect(await store.mapGetAll('b:{t}:map')).toEqual({ x: [1] });
        await store.batch([]);
      });

      it('writes nothing when any op of the batch is invalid', async () => {
        await store.set('b:{f}:keep', 'original');
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        for (const bad of [undefined, 10n, circular]) {
          await expect(
            store.batch([
              { op: 'set', key: 'b:{f}:new', value: 'new' },
              { op: 'delete', key: 'b:{f}:keep' },
              { op: 'mapSet', key: 'b:{f}:map', field: 'a', value: 1 },
              { op: 'set', key: 'b:{f}:bad', value: bad },
            ]),
          ).rejects.toThrow(TypeError);
        }
        await expect(store.batch([{ op: 'set', key: 'b:{f}:new', value: 'new' }, { op: 'mapSet', key: 'b:{f}:map', field: 'a', value: undefined }])).rejects.toThrow(TypeError);
        expect(await store.getMany(['b:{f}:new', 'b:{f}:keep', 'b:{f}:bad'])).toEqual([undefined, 'original', undefined]);
        expect(await store.mapGetAll('b:{f}:map')).toEqual({});
      });

      it('is atomic towards concurrent readers: they see all of a batch or none of it', async () => {
        const rounds = 30;
        const seen: string[] = [];
        const writer = (async () => {
          for (let i = 0; i < rounds; i += 1) {
            await store.batch([
              { op: 'set', key: 'b:{p}:x', value: i },
              { op: 'set', key: 'b:{p}:y', value: i },
            ]);
          }
        })();
        const reader = (async () => {
          for (let i = 0; i < rounds; i += 1) {
            const [x, y] = await store.getMany<number>(['b:{p}:x', 'b:{p}:y']);
            seen.push(`${x}/${y}`);
          }
        })();
        await Promise.all([writer, reader]);
        expect(seen.filter((pair) => pair.split('/')[0] !== pair.split('/')[1])).toEqual([]);
        expect(await store.getMany(['b:{p}:x', 'b:{p}:y'])).toEqual([rounds - 1, rounds - 1]);
      });
    });

    describe('schedule', () => {
      it('takes due members earliest first, up to the limit, and leases them forward', async () => {
        await store.scheduleAdd('due:{s}', 'late', 300);
        await store.scheduleAdd('due:{s}', 'b', 100);
        await store.scheduleAdd('due:{s}', 'a', 100);
        await store.scheduleAdd('due:{s}', 'early', 50);
        await store.scheduleAdd('due:{s}', 'future', 10_000);
        expect(await store.scheduleTakeDue('due:{s}', 1000, 3, 500)).toEqual([
          { member: 'early', dueAt: 50 },
          { member: 'a', dueAt: 100 },
          { member: 'b', dueAt: 100 },
        ]);
        // Leased to 1500: only 'late' is still due at 1000; all four come back once the lease has run out.
        expect(await store.scheduleTakeDue('due:{s}', 1000, 10, 500)).toEqual([{ member: 'late', dueAt: 300 }]);
        expect(await store.scheduleTakeDue('due:{s}', 1200, 10, 500)).toEqual([]);
        expect((await store.scheduleTakeDue('due:{s}', 1500, 10, 500)).map((entry) => entry.member)).toEqual(['a', 'b', 'early', 'late']);
        expect(await store.scheduleTakeDue('due:{s}', 1_000_000, 0, 500)).toEqual([]);
      });

      it('re-adding replaces a due time; removing drops the member; an absent schedule is empty', async () => {
        await store.scheduleAdd('due:{r}', 'x', 100);
        await store.scheduleAdd('due:{r}', 'x', 5000);
        await store.scheduleAdd('due:{r}', 'y', 100);
        await store.scheduleRemove('due:{r}', 'y');
        await store.scheduleRemove('due:{r}', 'never-added');
        expect(await store.scheduleTakeDue('due:{r}', 1000, 10, 1)).toEqual([]);
        expect(await store.scheduleTakeDue('due:{r}', 5000, 10, 1)).toEqual([{ member: 'x', dueAt: 5000 }]);
        expect(await store.scheduleTakeDue('due:{absent}', 5000, 10, 1)).toEqual([]);
        await store.delete('due:{r}');
        expect(await store.scheduleTakeDue('due:{r}', 1_000_000, 10, 1)).toEqual([]);
      });

      it('concurrent takes from several clients hand each due member to exactly one of them', async () => {
        const members = Array.from({ length: 60 }, (_, i) => `m${i}`);
        await Promise.all(members.map((member, i) => store.scheduleAdd('due:{race}', member, i)));
        const siblings = options.makeSibling ? await Promise.all([1, 2, 3].map(() => options.makeSibling!(store))) : [];
        try {
          const clients = [store, ...siblings];
          const takes = await Promise.all(
            Array.from({ length: 12 }, (_, i) => clients[i % clients.length]!.scheduleTakeDue('due:{race}', 1000, 7, 60_000)),
          );
          const taken = takes.flat().map((entry) => entry.member);
          expect(taken.sort()).toEqual(members.slice(0, Math.min(60, 12 * 7)).sort());
          expect(new Set(taken).size).toBe(taken.length);
        } finally {
          for (const sibling of siblings) if (sibling !== store) await sibling.close();
        }
      });
    });

    describe('publish / subscribe', () => {
      it('delivers messages to every handler of the channel and only that channel', async () => {
        const first: string[] = [];
        const second: string[] = [];
        const other: string[] = [];
        const stopFirst = await store.subscribe('events', (m) => first.push(m));
        const stopSecond = await store.subscribe('events', (m) => second.push(m));
        const stopOther = await store.subscribe('elsewhere', (m) => other.push(m));
        await store.publish('events', 'hello');
        await store.publish('events', '{"json":true}');
        await eventually(() => first.length === 2 && second.length === 2, 'both handlers got both messages');
        // Order is not part of the contract: Redis Cluster may deliver two publishes through different nodes.
        expect(first.sort()).toEqual(['hello', '{"json":true}'].sort());
        expect(second.sort()).toEqual(['hello', '{"json":true}'].sort());
        expect(other).toEqual([]);
        await Promise.all([stopFirst(), stopSecond(), stopOther()]);
      });

      it('stops delivering after unsubscribe', async () => {
        const stopped: string[] = [];
        const still: string[] = [];
        const stop = await store.subscribe('chan', (m) => stopped.push(m));
        const keep = await store.subscribe('chan', (m) => still.push(m));
        await stop();
        await store.publish('chan', 'after');
        await eventually(() => still.length === 1, 'remaining handler got the message');
        expect(stopped).toEqual([]);
        await keep();
        const marker: string[] = [];
        const stopMarker = await store.subscribe('marker', (m) => marker.push(m));
        await store.publish('chan', 'nobody listens');
        await store.publish('marker', 'sync');
        await eventually(() => marker.length === 1, 'marker delivered');
        expect(still).toEqual(['after']);
        await stopMarker();
      });
    });

    it('ping resolves while the backend answers', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });

  const makeUnreachableStore = options.makeUnreachableStore;
  if (makeUnreachableStore) {
    describe(`KeyValueStore conformance: ${name} when the backend is unreachable`, () => {
      it('rejects every call with StoreUnavailableError (never a miss)', async () => {
        const down = await makeUnreachableStore();
        try {
          const calls: [string, () => Promise<unknown>][] = [
            ['get', () => down.get('k')],
            ['getMany', () => down.getMany(['k', 'l'])],
            ['set', () => down.set('k', 1, 1000)],
            ['setIfAbsent', () => down.setIfAbsent('k', 1, 1000)],
            ['take', () => down.take('k')],
            ['delete', () => down.delete('k')],
            ['deleteIfEquals', () => down.deleteIfEquals('k', 1)],
            ['assign', () => down.assign('k', { v: 1 })],
            ['claim', () => down.claim('k', 'consumed', 1)],
            ['ttl', () => down.ttl('k')],
            ['increment', () => down.increment('k', 1000)],
            ['takeToken', () => down.takeToken('k', 1, 1, 0)],
            ['mapGetAll', () => down.mapGetAll('k')],
            ['mapGet', () => down.mapGet('k', 'f')],
            ['scheduleAdd', () => down.scheduleAdd('k', 'm', 1)],
            ['scheduleRemove', () => down.scheduleRemove('k', 'm')],
            ['scheduleTakeDue', () => down.scheduleTakeDue('k', 1, 1, 1)],
            ['batch', () => down.batch([{ op: 'set', key: 'k', value: 1 }])],
            ['publish', () => down.publish('c', 'm')],
            ['subscribe', () => down.subscribe('c', () => undefined)],
            ['ping', () => down.ping()],
          ];
          for (const [method, call] of calls) {
            const outcome = await call().then(
              (value) => ({ resolved: value }),
              (err: unknown) => ({ rejected: err }),
            );
            expect(outcome, method).toHaveProperty('rejected');
            const err = (outcome as { rejected: unknown }).rejected;
            expect(err, method).toBeInstanceOf(StoreUnavailableError);
            expect(err, method).toMatchObject({ code: 'store_unavailable', status: 503 });
          }
        } finally {
          await down.close();
        }
      });
    });
  }
}
