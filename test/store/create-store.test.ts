// createStore and storeConfigSchema: config validation, memory, Redis by URL, rediss:// with a private CA, Sentinel, and Redis down at boot.
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createStore, storeConfigSchema } from '../../src/store/create-store.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import { StoreUnavailableError } from '../../src/store/store.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { REDIS_URL, disposeRedisStore, freePort, redisCli, redisCliAt, startRedisServer, startSentinel, startTlsRedisServer, testPrefix } from '../helpers/redis.js';
import type { RedisServer } from '../helpers/redis.js';

function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const cleanups: (() => Promise<void>)[] = [];
const servers: RedisServer[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  for (const server of servers) await server.destroy();
});
const keep = <T extends KeyValueStore>(store: T): T => {
  cleanups.push(() => (store instanceof RedisStore ? disposeRedisStore(store) : store.close()));
  return store;
};
const keepServer = (server: RedisServer): RedisServer => {
  servers.push(server);
  return server;
};

describe('storeConfigSchema', () => {
  it('accepts memory and Redis sections and fills documented defaults', () => {
    expect(storeConfigSchema.parse({ type: 'memory' })).toEqual({ type: 'memory' });
    expect(storeConfigSchema.parse({ type: 'redis', url: 'rediss://u:p@redis.example:6380/2' })).toEqual({
      type: 'redis', url: 'rediss://u:p@redis.example:6380/2', prefix: 'vestibule:', commandTimeoutMs: 2000, lostClaimWaitMs: 15_000,
    });
    expect(storeConfigSchema.parse({ type: 'redis', cluster: ['10.0.0.1:7000', 'redis-b:7001', '[::1]:7002'], password: 'x', tls: true })).toMatchObject({
      cluster: ['10.0.0.1:7000', 'redis-b:7001', '[::1]:7002'],
    });
    expect(storeConfigSchema.parse({ type: 'redis', sentinels: ['s1:26379'], sentinelName: 'mymaster' })).toMatchObject({ sentinelName: 'mymaster' });
  });

  it('names every bad field', () => {
    const cases: [unknown, string][] = [
      [{ type: 'redis', url: 'http://redis:6379' }, 'url'],
      [{ type: 'redis', url: 'redis://a:1', cluster: ['a:1'] }, 'url'],
      [{ type: 'redis', sentinels: ['s:26379'] }, 'sentinelName'],
      [{ type: 'redis', sentinelName: 'm' }, 'sentinels'],
      [{ type: 'redis', cluster: ['no-port'] }, 'cluster.0'],
      [{ type: 'redis', prefix: 'has{tag}:' }, 'prefix'],
      [{ type: 'redis', commandTimeoutMs: 0 }, 'commandTimeoutMs'],
      [{ type: 'redis', unknownField: 1 }, ''],
      [{ type: 'postgres' }, 'type'],
    ];
    for (const [input, path] of cases) {
      const result = storeConfigSchema.safeParse(input);
      expect(result.success, JSON.stringify(input)).toBe(false);
      if (path) expect(result.error!.issues.map((issue) => issue.path.join('.')), JSON.stringify(input)).toContain(path);
    }
  });
});

describe('createStore', () => {
  it('builds the memory store and warns that it is for development', async () => {
    const { logger, lines } = capturingLogger();
    const store = keep(await createStore({ type: 'memory' }, logger));
    expect(store).toBeInstanceOf(MemoryStore);
    expect(lines.some((line) => line.level === 40 && /in-memory store/.test(line.msg))).toBe(true);
  });

  it('builds a Redis store from a URL, under its prefix', async () => {
    const { logger } = capturingLogger();
    const prefix = testPrefix('cfg');
    const store = keep((await createStore(storeConfigSchema.parse({ type: 'redis', url: REDIS_URL, prefix }), logger)) as RedisStore);
    expect(store.kind).toBe('redis');
    await store.set('k', { v: 1 }, 60_000);
    expect(await store.get('k')).toEqual({ v: 1 });
    // Read back through redis-cli at the same URL: the database number (redis://host:port/3) counts too.
    expect(redisCliAt(REDIS_URL, 'GET', `${prefix}k`)).toBe('{"v":1}');
  });

  it('connects over TLS with rediss:// and a configured CA, and refuses an untrusted certificate', async () => {
    const server = await startTlsRedisServer();
    keepServer(server);
    const { logger } = capturingLogger();
    const trusted = keep(await createStore(storeConfigSchema.parse({ type: 'redis', url: server.url, prefix: testPrefix('tls'), tls: { ca: server.ca } }), logger));
    await trusted.set('over-tls', 'yes');
    expect(await trusted.get('over-tls')).toBe('yes');

    const untrusted = keep(await createStore(storeConfigSchema.parse({ type: 'redis', url: server.url, prefix: testPrefix('tls') }), logger, 1000));
    await expect(untrusted.get('over-tls')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('finds the master through Redis Sentinel', async () => {
    const master = keepServer(await startRedisServer());
    const sentinel = keepServer(await startSentinel(master.port, 'vestibule-master'));
    const { logger } = capturingLogger();
    const prefix = testPrefix('sentinel');
    const store = keep(
      await createStore(storeConfigSchema.parse({ type: 'redis', sentinels: [`127.0.0.1:${sentinel.port}`], sentinelName: 'vestibule-master', prefix }), logger),
    );
    await store.set('via-sentinel', 42);
    expect(await store.get('via-sentinel')).toBe(42);
    expect(redisCli(master.port, 'GET', `${prefix}via-sentinel`)).toBe('42');
  });

  it('starts while Redis is down (logged, calls fail with StoreUnavailableError) and works once Redis comes up', async () => {
    const port = await freePort();
    const { logger, lines } = capturingLogger();
    const store = keep(await createStore(storeConfigSchema.parse({ type: 'redis', url: `redis://127.0.0.1:${port}`, prefix: testPrefix('boot') }), logger, 300));
    expect(lines.some((line) => line.level === 50 && /not reachable/.test(line.msg))).toBe(true);
    await expect(store.get('x')).rejects.toBeInstanceOf(StoreUnavailableError);
    keepServer(await startRedisServer({ port }));
    await (store as RedisStore).ready(10_000);
    await store.set('x', 'up');
    expect(await store.get('x')).toBe('up');
  });
});
