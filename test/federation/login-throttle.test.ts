// The login throttle counts an attempt before the password is checked: parallel attempts cannot pass the limits, on the memory store and on Redis.
import { afterAll, describe, expect, it } from 'vitest';
import { LoginThrottle, type ThrottleLimits } from '../../src/federation/login-throttle.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { disposeAllRedisStores, openRedisStore } from '../helpers/redis.js';

afterAll(disposeAllRedisStores);

interface Backend {
  store: KeyValueStore;
  /** Lets `ms` pass for the store's TTLs (a fake clock in memory, real time on Redis). */
  advance(ms: number): Promise<void>;
}

const backends: Array<[string, () => Promise<Backend>]> = [
  [
    'memory',
    async () => {
      let now = 1_000_000;
      return { store: new MemoryStore({ now: () => now, sweepMs: 0 }), advance: async (ms) => void (now += ms) };
    },
  ],
  ['redis', async () => ({ store: await openRedisStore(), advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) })],
];

const WINDOW = 600;
const limits = (perUser: number, perIp: number): ThrottleLimits => ({ perUser, perIp, windowMs: WINDOW });
const granted = (results: boolean[]) => results.filter(Boolean).length;

describe.each(backends)('LoginThrottle on %s', (_name, open) => {
  it('lets exactly perUser of 40 parallel attempts for one username through', async () => {
    const { store } = await open();
    const throttle = new LoginThrottle(store, limits(10, 1000));
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => throttle.reserve('local', 'alice', `192.0.2.${i}`)));
    expect(granted(results)).toBe(10);
    expect(await throttle.reserve('local', 'ALICE ', '198.51.100.1')).toBe(false);
  });

  it('lets exactly perIp of 100 parallel attempts from one IP through, whatever the usernames', async () => {
    const { store } = await open();
    const throttle = new LoginThrottle(store, limits(10, 25));
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => throttle.reserve('local', `user-${i}`, '203.0.113.7')));
    expect(granted(results)).toBe(25);
    expect(await throttle.reserve('local', 'someone-else', '203.0.113.8')).toBe(true);
  });

  it('a success clears the username counter', async () => {
    const { store } = await open();
    const throttle = new LoginThrottle(store, limits(3, 1000));
    expect(await throttle.reserve('local', 'bob', '192.0.2.1')).toBe(true);
    expect(await throttle.reserve('local', 'bob', '192.0.2.1')).toBe(true);
    expect(await throttle.reserve('local', 'bob', '192.0.2.1')).toBe(true);
    await throttle.succeeded('local', 'bob', '192.0.2.1');
    const again = await Promise.all(Array.from({ length: 5 }, () => throttle.reserve('local', 'bob', '192.0.2.1')));
    expect(granted(again)).toBe(3);
  });

  it('a success gives the IP its attempt back, so only failures count against an address', async () => {
    const { store } = await open();
    const throttle = new LoginThrottle(store, limits(10, 2));
    for (const user of ['u1', 'u2', 'u3']) {
      expect(await throttle.reserve('local', user, '192.0.2.9')).toBe(true);
      await throttle.succeeded('local', user, '192.0.2.9');
    }
    const failures = await Promise.all(['f1', 'f2', 'f3', 'f4'].map((user) => throttle.reserve('local', user, '192.0.2.9')));
    expect(granted(failures)).toBe(2);
  });

  it('counters are per connector for usernames', async () => {
    const { store } = await open();
    const throttle = new LoginThrottle(store, limits(1, 1000));
    expect(await throttle.reserve('local', 'carol', '192.0.2.1')).toBe(true);
    expect(await throttle.reserve('local', 'carol', '192.0.2.1')).toBe(false);
    expect(await throttle.reserve('break-glass', 'carol', '192.0.2.1')).toBe(true);
  });

  it('the lock-out ends with the window, and given-back attempts do not carry over into the next window', async () => {
    const { store, advance } = await open();
    const throttle = new LoginThrottle(store, limits(2, 2));
    for (const user of ['a', 'b', 'c']) {
      expect(await throttle.reserve('local', user, '192.0.2.50')).toBe(true);
      await throttle.succeeded('local', user, '192.0.2.50');
    }
    expect(await throttle.reserve('local', 'dave', '192.0.2.50')).toBe(true);
    expect(await throttle.reserve('local', 'dave', '192.0.2.50')).toBe(true);
    expect(await throttle.reserve('local', 'dave', '192.0.2.50')).toBe(false);
    await advance(WINDOW + 150);
    // A new window: three successes of the last one must not buy three extra failures now.
    const results = await Promise.all(['e1', 'e2', 'e3', 'e4', 'e5'].map((user) => throttle.reserve('local', user, '192.0.2.50')));
    expect(granted(results)).toBe(2);
    expect(await throttle.reserve('local', 'dave', '192.0.2.51')).toBe(true);
  });

  it('tells a refused client to wait the whole window', () => {
    expect(new LoginThrottle(new MemoryStore({ sweepMs: 0 }), { perUser: 1, perIp: 1, windowMs: 15 * 60_000 }).retryAfterSeconds).toBe(900);
  });
});
