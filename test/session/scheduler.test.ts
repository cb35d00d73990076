// The re-verification sweep over the store's due index: once per interval, leases, bounded concurrency, falling behind, paced sweeps that yield to requests, and two instances on one Redis.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionRepository, type FederatedSession } from '../../src/session/federated-session.js';
import type { CheckOutcome } from '../../src/session/reverify.js';
import { ReverifyScheduler, type SchedulerOptions, type SweepClock } from '../../src/session/scheduler.js';
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

/** A sweep clock whose sleeps move its time at once; `starts` collects the time each check began. */
function fakeSweepClock(): SweepClock & { t: number } {
  const clock = {
    t: 0,
    monotonic: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
  return clock;
}

/** `count` sessions on the memory store, the i-th verified `stepMs` after the one before (so due `stepMs` apart from T0 + INTERVAL). */
async function staggered(clock: { now: number }, count: number, stepMs: number) {
  const store = new MemoryStore({ now: () => clock.now, sweepMs: 0 });
  const sessions = new SessionRepository(store, 24 * 3600_000, () => INTERVAL);
  for (let i = 0; i < count; i += 1) await sessions.save(session(String(i), T0 + i * stepMs), { accountId: `acct${i}`, connectorId: 'corp', claims: {}, updatedAt: T0 });
  return sessions;
}

describe('paced sweeps (as the timer runs them)', () => {
  it('spread one batch evenly over 80% of the sweep interval, a quarter of that window ahead while no request is in flight', async () => {
    const clock = { now: T0 + INTERVAL };
    const sweepClock = fakeSweepClock();
    const { sessions, check } = await setup(new MemoryStore({ now: () => clock.now, sweepMs: 0 }), clock, 10);
    const starts: number[] = [];
    const sweeper = scheduler({ sessions, now: () => clock.now, clock: sweepClock, sweepIntervalMs: 1000, check: (s) => (starts.push(sweepClock.t), check(s)) });
    expect(await sweeper.sweepOnce({ paced: true })).toMatchObject({ taken: 10, outcomes: { unchanged: 10 } });
    // Planned at 0, 80 … 720 ms; with no request in flight each starts 200 ms early (not before the sweep).
    expect(starts.map(Math.round)).toEqual([0, 0, 0, 40, 120, 200, 280, 360, 440, 520]);
  });

  it('give each batch the share of the window that its due times cover', async () => {
    // Due every 100 ms from T0 + INTERVAL; the sweep at +1000 covers due times from 1.2 intervals back (-200).
    const clock = { now: T0 + INTERVAL + 1000 };
    const sweepClock = fakeSweepClock();
    const sessions = await staggered(clock, 10, 100);
    const starts: number[] = [];
    const sweeper = scheduler({ sessions, now: () => clock.now, clock: sweepClock, sweepIntervalMs: 1000, batchSize: 5, check: async () => (starts.push(sweepClock.t), 'unchanged') });
    expect((await sweeper.sweepOnce({ paced: true })).taken).toBe(10);
    // First batch: due 0..400 of the span -200..1000, half of it: 400 ms of the 800 for 5 (planned 0, 80 … 320). Second
    // (full, so maybe not the last), from 120 ms: due 500..900 of the 400..1000 left, 5/6 of the 680 ms left: 567 ms for
    // 5 (planned 120, 233 … 573). No request is in flight: each starts 200 ms early, not before its batch.
    expect(starts.map(Math.round)).toEqual([0, 0, 0, 40, 120, 120, 120, 147, 260, 373]);
  });

  it('check late sessions (due before the longest wait between sweeps) first, unspread', async () => {
    const clock = { now: T0 + INTERVAL + 10 * MINUTE };
    const sweepClock = fakeSweepClock();
    const sessions = await staggered(clock, 4, 1);
    const starts: number[] = [];
    const sweeper = scheduler({ sessions, now: () => clock.now, clock: sweepClock, sweepIntervalMs: 1000, batchSize: 2, check: async () => (starts.push(sweepClock.t), 'unchanged') });
    expect(await sweeper.sweepOnce({ paced: true })).toMatchObject({ taken: 4, behind: true });
    expect(starts).toEqual([0, 0, 0, 0]);
  });

  it('let requests in flight go first: a check waits while the broker is busy', async () => {
    const clock = { now: T0 + INTERVAL };
    const sweepClock = fakeSweepClock();
    const { sessions, check } = await setup(new MemoryStore({ now: () => clock.now, sweepMs: 0 }), clock, 10);
    const starts: number[] = [];
    let busyAsked = 0;
    // Busy for the first 50 ms, and again from 300 to 400 ms.
    const busy = () => (busyAsked += 1, sweepClock.t < 50 || (sweepClock.t >= 300 && sweepClock.t < 400));
    const sweeper = scheduler({ sessions, now: () => clock.now, clock: sweepClock, busy, sweepIntervalMs: 1000, check: (s) => (starts.push(sweepClock.t), check(s)) });
    const report = await sweeper.sweepOnce({ paced: true });
    expect(report.outcomes.unchanged).toBe(10);
    // Polls 2, 4, 8, 16, 32, 32 … ms apart: the first check starts at the first poll after 50 (and the next three, whose
    // early start has come, right after it); the others 200 ms before their planned time, except the eighth (planned at
    // 560) whose early start falls in the busy 300..400: at the first poll after 400.
    expect(starts.map(Math.round)).toEqual([62, 62, 62, 62, 120, 200, 280, 422, 440, 520]);
    expect(busyAsked).toBeGreaterThan(10);
    expect(report.forced).toBe(0);
  });

  it('start a waiting check in the moment whenIdle() says the requests are answered, not at the next poll', async () => {
    const clock = { now: T0 + INTERVAL };
    const sweepClock = fakeSweepClock();
    const { sessions, check } = await setup(new MemoryStore({ now: () => clock.now, sweepMs: 0 }), clock, 1);
    let busy = true;
    let idle = () => {};
    const idleSoon = new Promise<void>((resolve) => (idle = resolve));
    const starts: number[] = [];
    // The fake sleeps would poll at once; whenIdle() given, the sweep sleeps until the deadline or the idle moment.
    const sweeper = scheduler({ sessions, now: () => clock.now, clock: { ...sweepClock, sleep: () => new Promise(() => {}) }, busy: () => busy, whenIdle: () => idleSoon, sweepIntervalMs: 1000, check: (s) => (starts.push(sweepClock.t), check(s)) });
    const sweep = sweeper.sweepOnce({ paced: true });
    for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(starts).toEqual([]);
    sweepClock.t = 7;
    busy = false;
    idle();
    expect(await sweep).toMatchObject({ taken: 1, forced: 0 });
    expect(starts).toEqual([7]);
  });

  it('keep their pace under constant traffic: each check starts at most a quarter of the window late, and all are checked', async () => {
    const clock = { now: T0 + INTERVAL };
    const sweepClock = fakeSweepClock();
    const { sessions, check, checked } = await setup(new MemoryStore({ now: () => clock.now, sweepMs: 0 }), clock, 10);
    const starts: number[] = [];
    const sweeper = scheduler({ sessions, now: () => clock.now, clock: sweepClock, busy: () => true, sweepIntervalMs: 1000, check: (s) => (starts.push(sweepClock.t), check(s)) });
    expect(await sweeper.sweepOnce({ paced: true })).toMatchObject({ outcomes: { unchanged: 10 }, forced: 10 });
    expect(starts.map(Math.round)).toEqual([200, 280, 360, 440, 520, 600, 680, 760, 840, 920]);
    expect(new Set(checked).size).toBe(10);
  });

  it('start one check per turn of the event loop while on schedule, and back to back once past their latest start', async () => {
    const clock = { now: T0 + INTERVAL };
    const sweepClock = fakeSweepClock();
    const { sessions, check } = await setup(new MemoryStore({ now: () => clock.now, sweepMs: 0 }), clock, 6);
    let started = 0;
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    // The first check takes the clock far past every check's latest start (a saturated event loop), then all wait.
    const sweeper = scheduler({ sessions, now: () => clock.now, clock: sweepClock, concurrency: 10, sweepIntervalMs: 1000, check: async (s) => {
      started += 1;
      if (started === 1) sweepClock.t += 10_000;
      await held;
      return check(s);
    } });
    const sweep = sweeper.sweepOnce({ paced: true });
    while (started === 0) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toBe(6);
    release();
    expect((await sweep).outcomes.unchanged).toBe(6);

    // On schedule (all due now, none late): one start per turn.
    const onTime = await setup(new MemoryStore({ now: () => clock.now, sweepMs: 0 }), clock, 6);
    let startedOnTime = 0;
    const paced = scheduler({ sessions: onTime.sessions, now: () => clock.now, clock: fakeSweepClock(), concurrency: 10, sweepIntervalMs: 3600_000, check: async (s) => (startedOnTime += 1, onTime.check(s)) });
    const second = paced.sweepOnce({ paced: true });
    while (startedOnTime === 0) await new Promise((resolve) => setImmediate(resolve));
    const counts: number[] = [];
    for (let turn = 0; turn < 6; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      counts.push(startedOnTime);
    }
    // The first two are due to start at once (their early start has come), the others later: each turn starts at most one.
    const perTurn = counts.map((count, turn) => count - (turn === 0 ? 1 : counts[turn - 1]!));
    expect(Math.max(...perTurn)).toBe(1);
    expect(counts[0]).toBe(2);
    expect((await second).outcomes.unchanged).toBe(6);
  });

  it('run at most `concurrency` checks at once', async () => {
    const clock = { now: T0 + INTERVAL };
    const { sessions, check } = await setup(new MemoryStore({ now: () => clock.now, sweepMs: 0 }), clock, 12);
    let inFlight = 0;
    let most = 0;
    let release = () => {};
    let gate = new Promise<void>((resolve) => (release = resolve));
    const sweeper = scheduler({
      sessions,
      now: () => clock.now,
      clock: fakeSweepClock(),
      concurrency: 3,
      check: async (s) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await gate;
        inFlight -= 1;
        return check(s);
      },
    });
    let done = false;
    const sweep = sweeper.sweepOnce({ paced: true }).finally(() => (done = true));
    // Let the sweep start what it may, then release the checks in flight; again until it is done.
    while (!done) {
      for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
      const open = release;
      gate = new Promise<void>((resolve) => (release = resolve));
      open();
    }
    expect((await sweep).taken).toBe(12);
    expect(most).toBe(3);
  });

  it('stop() ends a paced sweep without starting its remaining checks; they come back due when the lease runs out', async () => {
    const clock = { now: T0 + INTERVAL };
    const { sessions, check, checked } = await setup(new MemoryStore({ now: () => clock.now, sweepMs: 0 }), clock, 5);
    // Real sleeps of a minute between starts (the window: half the lease): only stop() ends the wait.
    const sweeper = scheduler({ sessions, check, now: () => clock.now, sweepIntervalMs: 3600_000, leaseMs: 10 * MINUTE });
    const sweep = sweeper.sweepOnce({ paced: true });
    while (checked.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await sweeper.stop();
    expect(await sweep).toMatchObject({ taken: 5, outcomes: { unchanged: 1 } });
    expect(checked).toHaveLength(1);
    clock.now += 10 * MINUTE - 1;
    expect((await sweeper.sweepOnce()).taken).toBe(0);
    clock.now += 1;
    expect((await sweeper.sweepOnce()).taken).toBe(4);
    expect(new Set(checked).size).toBe(5);
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
