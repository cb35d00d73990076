// The re-verification sweep over the store's due index: once per interval, leases, bounded concurrency, falling behind, and two instances on one Redis.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionRepository, type FederatedSession } from '../../src/session/federated-session.js';
import type { CheckOutcome } from '../../src/session/reverify.js';
import { ReverifyScheduler, type SchedulerOptions } from '../../src/session/scheduler.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { disposeRedisStore, openRedisStore } from '../helpers/redis.js';

const MINUTE = 60_000;
const INTERVAL = 15 * MINUTE;
const T0 = 1_800_000_000_000;
const silent = pino({ level: 'silent' });

function session(id: string, at: number, accountId = `acct${id}`): FederatedSession {
  return { id, accountId, connectorId: 'corp', identity: { connectorId: 'corp', subject: `u${id}`, groups: [], amr: ['pwd'], rawClaims: {} }, createdAt: at, lastVerifiedAt: at };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A repository over `store` with `count` sessions saved at T0, and a check that counts and reschedules them after the interval. */
async function setup(store: KeyValueStore, clock: { now: number }, count: number) {
  const sessions = new SessionRepository(store, 24 * 3600_000, () => INTERVAL);
  for (let i = 0; i < count; i += 1) await sessions.save(session(String(i), T0), { accountId: `acct${i}`, connectorId: 'corp', claims: {}, updatedAt: T0 });
  const checked: string[] = [];
  const check = async (s: FederatedSession): Promise<CheckOutcome> => {
    checked.push(s.id);
    await sessions.reschedule(s, clock.now + INTERVAL);
    return 'unchanged';
  };
  return { sessions, checked, check };
}

function scheduler(options: Partial<SchedulerOptions> & Pick<SchedulerOptions, 'sessions' | 'check' | 'now'>): ReverifyScheduler {
  return new ReverifyScheduler({ logger: silent, sweepIntervalMs: 30_000, batchSize: 100, concurrency: 4, leaseMs: 5 * MINUTE, ...options });
}

describe('ReverifyScheduler on the memory store', () => {
  it('checks a session once per interval: not before it is due, once when due, again after the next interval', async () => {
    const clock = { now: T0 };
    const store = new MemoryStore({ now: () => clock.now, sweepMs: 0 });
    const { sessions, checked, check } = await setup(store, clock, 5);
    const sweeper = scheduler({ sessions, check, now: () => clock.now });
    clock.now = T0 + INTERVAL - 1;
    expect((await sweeper.sweepOnce()).taken).toBe(0);
    clock.now = T0 + INTERVAL;
    const report = await sweeper.sweepOnce();
    expect(report).toMatchObject({ taken: 5, outcomes: { unchanged: 5, failed: 0 }, behind: false });
    expect(checked.sort()).toEqual(['0', '1', '2', '3', '4']);
    clock.now += 10 * MINUTE;
    expect((await sweeper.sweepOnce()).taken).toBe(0);
    clock.now = T0 + 2 * INTERVAL;
    expect((await sweeper.sweepOnce()).taken).toBe(5);
    expect(checked).toHaveLength(10);
    expect((await sessions.get('acct3', '3'))?.nextCheckAt).toBe(T0 + 3 * INTERVAL);
  });

  it('a check that fails keeps its lease: the session comes back due when the lease runs out, not before', async () => {
    const clock = { now: T0 };
    const store = new MemoryStore({ now: () => clock.now, sweepMs: 0 });
    const { sessions } = await setup(store, clock, 1);
    let attempts = 0;
    const sweeper = scheduler({
      sessions,
      now: () => clock.now,
      leaseMs: 5 * MINUTE,
      check: async () => {
        attempts += 1;
        throw new Error('store hiccup');
      },
    });
    clock.now = T0 + INTERVAL;
    expect((await sweeper.sweepOnce()).outcomes.failed).toBe(1);
    clock.now += 5 * MINUTE - 1;
    expect((await sweeper.sweepOnce()).taken).toBe(0);
    clock.now += 1;
    expect((await sweeper.sweepOnce()).outcomes.failed).toBe(1);
    expect(attempts).toBe(2);
  });

  it('runs at most `concurrency` checks at once and drains every batch in one sweep', async () => {
    const clock = { now: T0 };
    const store = new MemoryStore({ now: () => clock.now, sweepMs: 0 });
    const { sessions, checked, check } = await setup(store, clock, 25);
    let inFlight = 0;
    let most = 0;
    const sweeper = scheduler({
      sessions,
      now: () => clock.now,
      batchSize: 10,
      concurrency: 3,
      check: async (s) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight -= 1;
        return check(s);
      },
    });
    clock.now = T0 + INTERVAL;
    expect((await sweeper.sweepOnce()).taken).toBe(25);
    expect(new Set(checked).size).toBe(25);
    expect(most).toBe(3);
  });

  it('drops the index entries of ended and expired sessions without checking them', async () => {
    const clock = { now: T0 };
    const store = new MemoryStore({ now: () => clock.now, sweepMs: 0 });
    const { sessions, checked, check } = await setup(store, clock, 2);
    await sessions.end((await sessions.get('acct0', '0'))!);
    await store.delete('fsession:{acct1}:1'); // expired: the record is gone, its index entry is not
    const sweeper = scheduler({ sessions, check, now: () => clock.now });
    clock.now = T0 + INTERVAL;
    expect((await sweeper.sweepOnce()).outcomes).toMatchObject({ gone: 1 });
    expect(checked).toEqual([]);
    expect(await store.scheduleTakeDue('reverify-due:{reverify}', Infinity, 10, 0)).toEqual([]);
  });

  it('a sweep that finds long-overdue sessions says it is behind (log and report)', async () => {
    const clock = { now: T0 };
    const store = new MemoryStore({ now: () => clock.now, sweepMs: 0 });
    const { sessions, check } = await setup(store, clock, 3);
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ level: 'warn' }, sink);
    const reports: unknown[] = [];
    const sweeper = scheduler({ sessions, check, now: () => clock.now, logger, sweepIntervalMs: 30_000, onSweep: (report) => reports.push(report) });
    clock.now = T0 + INTERVAL + 10 * MINUTE;
    const report = await sweeper.sweepOnce();
    expect(report).toMatchObject({ taken: 3, behind: true, lagMs: 10 * MINUTE });
    expect(reports).toEqual([report]);
    expect(lines.map((line) => JSON.parse(line) as { msg: string; lagMs: number })).toEqual([expect.objectContaining({ msg: 'session re-verification is behind schedule', lagMs: 10 * MINUTE })]);
  });

  it('sweeps on its timer until stop()', async () => {
    const clock = { now: T0 + INTERVAL };
    const store = new MemoryStore({ now: () => clock.now, sweepMs: 0 });
    const { sessions, checked, check } = await setup(store, clock, 2);
    let sweeps = 0;
    const sweeper = scheduler({ sessions, check, now: () => clock.now, sweepIntervalMs: 5, onSweep: () => void (sweeps += 1) });
    sweeper.start();
    for (let i = 0; i < 500 && sweeps < 3; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    await sweeper.stop();
    const after = sweeps;
    expect(after).toBeGreaterThanOrEqual(3);
    expect(checked.sort()).toEqual(['0', '1']);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sweeps).toBe(after);
  });
});

describe('two instances sweeping one Redis', () => {
  it('check each due session exactly once per interval, however their sweeps interleave', async () => {
    const clock = { now: T0 };
    const one = await openRedisStore();
    const two = new RedisStore({ connection: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, prefix: one.prefix });
    await two.ready();
    closers.push(() => disposeRedisStore(one), () => two.close());
    const { sessions: first, checked, check } = await setup(one, clock, 60);
    const second = new SessionRepository(two, 24 * 3600_000, () => INTERVAL);
    const instances = [
      scheduler({ sessions: first, check, now: () => clock.now, batchSize: 7, concurrency: 3 }),
      scheduler({ sessions: second, check, now: () => clock.now, batchSize: 5, concurrency: 4 }),
    ];
    for (let round = 1; round <= 3; round += 1) {
      clock.now = T0 + round * INTERVAL;
      const reports = await Promise.all([...instances, ...instances].map((instance) => instance.sweepOnce()));
      expect(reports.slice(0, 2).reduce((sum, report) => sum + report.taken, 0)).toBe(60);
      expect(checked).toHaveLength(60 * round);
      expect(new Set(checked.slice(60 * (round - 1))).size).toBe(60);
    }
  });
});
