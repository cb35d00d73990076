// The Redis store passes the conformance suite on a real Redis, isolates prefixes, fails as StoreUnavailableError and recovers.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis.js';
import { StoreUnavailableError } from '../../src/store/store.js';
import { REDIS_URL, disposeAllRedisStores, disposeRedisStore, freePort, openRedisStore, startRedisServer } from '../helpers/redis.js';
import type { RedisServer } from '../helpers/redis.js';
import { runStoreConformance } from './conformance.js';

runStoreConformance('redis', () => openRedisStore(), {
  disposeStore: (store) => disposeRedisStore(store as RedisStore),
  makeUnreachableStore: async () => new RedisStore({ connection: { url: `redis://127.0.0.1:${await freePort()}` }, prefix: 'unreachable:' }),
  makeSibling: async (store) => {
    const sibling = new RedisStore({ connection: { url: REDIS_URL }, prefix: (store as RedisStore).prefix });
    await sibling.ready(10_000);
    return sibling;
  },
});

afterAll(disposeAllRedisStores);

describe('RedisStore specifics', () => {
  const servers: RedisServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.destroy()));
  });

  it('keeps every key and channel under its prefix, with millisecond TTLs', async () => {
    const a = await openRedisStore();
    const b = await openRedisStore();
    const raw = new Redis(REDIS_URL);
    try {
      await a.set('shared-name', 'from a', 45_000);
      expect(await b.get('shared-name')).toBeUndefined();
      expect(await raw.get(`${a.prefix}shared-name`)).toBe('"from a"');
      const pttl = await raw.pttl(`${a.prefix}shared-name`);
      expect(pttl).toBeGreaterThan(40_000);
      expect(pttl).toBeLessThanOrEqual(45_000);

      const heard: string[] = [];
      const stop = await b.subscribe('news', (m) => heard.push(m));
      const rawSub = raw.duplicate();
      const rawHeard: string[] = [];
      rawSub.on('message', (channel: string, m: string) => rawHeard.push(`${channel}=${m}`));
      await rawSub.subscribe(`${a.prefix}news`);
      await a.publish('news', 'a only');
      await b.publish('news', 'b only');
      for (let i = 0; i < 200 && (heard.length < 1 || rawHeard.length < 1); i += 1) await new Promise((r) => setTimeout(r, 10));
      expect(heard).toEqual(['b only']);
      expect(rawHeard).toEqual([`${a.prefix}news=a only`]);
      await stop();
      rawSub.disconnect();
    } finally {
      raw.disconnect();
    }
  });

  it('fails a command on a hung server with StoreUnavailableError after the command timeout', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const store = await openRedisStore({ connection: { url: server.url, commandTimeoutMs: 200 } });
    const admin = new Redis(server.url);
    try {
      await store.set('k', 'v');
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      await expect(store.get('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it('sends every operation of one event-loop turn as one Lua call, each caller getting its own answer', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const store = await openRedisStore({ connection: { url: server.url } });
    const admin = new Redis(server.url);
    /** EVAL/EVALSHA calls Redis has run so far (the store's only data command). */
    const scriptCalls = async () => {
      const stats = (await admin.info('commandstats')).split('\r\n');
      return stats.filter((line) => /^cmdstat_eval(sha)?:/.test(line)).reduce((sum, line) => sum + Number(/calls=(\d+)/.exec(line)![1]), 0);
    };
    try {
      await store.set('one', 1);
      await store.batch([{ op: 'mapSet', key: 'map', field: 'f', value: { x: 1 } }]);
      await store.set('doc', { a: 1 });
      const before = await scriptCalls();
      const answers = await Promise.all([
        store.get('one'),
        store.get('map'), // a map read as a value: a miss, not an error that fails the turn
        store.mapGetAll('one'), // and the other way round
        store.mapGetAll('map'),
        store.getMany(['one', 'absent', 'doc']),
        store.setIfAbsent('one', 2, 60_000),
        store.setIfAbsent('new', 3, 60_000),
        store.assign('doc', { b: 2 }),
        store.increment('counter', 60_000),
        store.increment('counter', 60_000),
        store.take('new'),
        store.ttl('absent'),
        store.deleteIfEquals('one', 2),
        store.batch([{ op: 'set', key: 'written', value: 'w' }, { op: 'mapDelete', key: 'map', field: 'nope' }]),
      ]);
      expect(await scriptCalls()).toBe(before + 1);
      expect(answers).toEqual([1, undefined, {}, { f: { x: 1 } }, [1, undefined, { a: 1 }], false, true, true, 1, 2, 3, undefined, false, undefined]);
      expect(await store.get('doc')).toEqual({ a: 1, b: 2 });
      expect(await store.get('written')).toBe('w');
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it('splits a very large turn into several calls without losing or mixing up answers', async () => {
    const store = await openRedisStore();
    const n = 1000;
    await Promise.all(Array.from({ length: n }, (_, i) => store.set(`bulk:${i}`, { i }, 60_000)));
    const values = await Promise.all(Array.from({ length: n }, (_, i) => store.get<{ i: number }>(`bulk:${i}`)));
    expect(values.map((value) => value?.i)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('fails fast while Redis is down and recovers without a restart once it is back (AOF keeps the data)', async () => {
    const server = await startRedisServer({ aof: true });
    servers.push(server);
    const store = await openRedisStore({ connection: { url: server.url } });
    try {
      await store.set('session', { user: 'alice' });
      await server.kill();
      await expect(store.get('session')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.batch([{ op: 'set', key: 'half', value: 1 }])).rejects.toBeInstanceOf(StoreUnavailableError);
      await server.start();
      await store.ready(10_000);
      expect(await store.get('session')).toEqual({ user: 'alice' });
      expect(await store.get('half')).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
