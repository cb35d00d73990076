// Failed sign-ins counted in a sliding window in the store, and the smart lockout: unfamiliar failures lock only the unfamiliar origin (memory and Redis).
import { afterEach, describe, expect, it } from 'vitest';
import { riskConfigSchema } from '../../src/config/risk.js';
import { AccountRiskRecords } from '../../src/risk/account-record.js';
import { LOCKOUT_REASON, SmartLockout } from '../../src/risk/lockout.js';
import { AddressFailures } from '../../src/risk/signals/velocity.js';
import { AccountLocks } from '../../src/session/account-locks.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';

const settings = riskConfigSchema.parse({});
const KEEP = 400 * 86_400_000;
let store: KeyValueStore | undefined;
afterEach(async () => {
  await closeTestStore(store);
  store = undefined;
});

describe.each(STORE_BACKENDS)('risk counters on %s', (_name, open) => {
  it('the account\'s failures: a sliding window where each failure leaves on its own, not all at once', async () => {
    store = await open();
    const records = new AccountRiskRecords(store, KEEP);
    const t0 = Date.now();
    expect(await records.addFailure('acct-1', 'unfamiliar', 300_000, t0)).toBe(1);
    expect(await records.addFailure('acct-1', 'unfamiliar', 300_000, t0 + 100_000)).toBe(2);
    expect(await records.addFailure('acct-1', 'unfamiliar', 300_000, t0 + 200_000)).toBe(3);
    expect((await records.read('acct-1')).failures('unfamiliar', t0 + 299_999)).toBe(3);
    expect((await records.read('acct-1')).failures('unfamiliar', t0 + 300_000)).toBe(2);
    expect(await records.addFailure('acct-1', 'unfamiliar', 300_000, t0 + 400_000)).toBe(2);
    expect((await records.read('acct-1')).failures('unfamiliar', t0 + 600_000)).toBe(1);
    expect((await records.read('acct-1')).failures('familiar', t0)).toBe(0);
  });

  it('concurrent failures, on any instance, are all counted (account and address)', async () => {
    store = await open();
    const records = new AccountRiskRecords(store, KEEP);
    const address = new AddressFailures(store, 300_000);
    const now = Date.parse('2026-12-01T10:00:00Z');
    await Promise.all(Array.from({ length: 25 }, () => Promise.all([records.addFailure('acct-1', 'familiar', 300_000, now), address.add('192.0.2.1', now)])));
    expect((await records.read('acct-1')).failures('familiar', now)).toBe(25);
    expect(await address.count('192.0.2.1', now)).toBe(25);
  });

  it('the address\'s failures: the previous window counts for the part the sliding window still covers', async () => {
    store = await open();
    const address = new AddressFailures(store, 300_000);
    const start = Date.parse('2026-12-01T10:00:00Z'); // a window boundary (a multiple of 5 minutes)
    for (let i = 0; i < 10; i++) await address.add('192.0.2.9', start + 1000);
    expect(await address.count('192.0.2.9', start + 299_000)).toBe(10);
    expect(await address.count('192.0.2.9', start + 300_000)).toBe(10); // next window begins: all of the previous still covered
    expect(await address.count('192.0.2.9', start + 450_000)).toBe(5); // half of it
    expect(await address.count('192.0.2.9', start + 600_000)).toBe(0); // two windows on: gone
    expect(await address.count('192.0.2.10', start)).toBe(0);
  });

  it('six unfamiliar failures in five minutes lock the unfamiliar origin; the owner on a known device signs in with step-up', async () => {
    store = await open();
    const locks = new AccountLocks(store);
    const lockout = new SmartLockout(locks, new AccountRiskRecords(store, KEEP), new AddressFailures(store, 300_000), settings);
    const now = Date.now();
    for (let i = 1; i <= 5; i++) {
      const outcome = await lockout.recordFailure('acct-1', '198.51.100.7', 'unfamiliar', now + i * 1000);
      expect(outcome).toMatchObject({ failures: i, lockedNow: false, state: { locked: false } });
    }
    const sixth = await lockout.recordFailure('acct-1', '198.51.100.7', 'unfamiliar', now + 6000);
    expect(sixth).toMatchObject({ failures: 6, lockedNow: true, state: { locked: true, kind: 'sign-in', reason: LOCKOUT_REASON } });
    expect(await lockout.state('acct-1', 'unfamiliar')).toMatchObject({ locked: true });
    expect(await lockout.state('acct-1', 'familiar')).toMatchObject({ locked: false, stepUp: true });
    // The account itself is not locked: its tokens still work.
    expect(await locks.isLocked('acct-1')).toBe(false);
    // Another account is untouched.
    expect(await lockout.state('acct-2', 'unfamiliar')).toEqual({ locked: false, stepUp: false });
  });

  it('failures spread over more than the window never lock', async () => {
    store = await open();
    const lockout = new SmartLockout(new AccountLocks(store), new AccountRiskRecords(store, KEEP), new AddressFailures(store, 300_000), settings);
    const now = Date.now();
    for (let i = 0; i < 12; i++) {
      const outcome = await lockout.recordFailure('acct-1', '198.51.100.7', 'unfamiliar', now + i * 61_000);
      expect(outcome.lockedNow).toBe(false);
    }
  });

  it('familiar failures count separately: an attacker cannot use them up, nor the owner the attacker\'s', async () => {
    store = await open();
    const records = new AccountRiskRecords(store, KEEP);
    const lockout = new SmartLockout(new AccountLocks(store), records, new AddressFailures(store, 300_000), settings);
    const now = Date.now();
    for (let i = 0; i < 5; i++) await lockout.recordFailure('acct-1', '198.51.100.7', 'unfamiliar', now);
    for (let i = 0; i < 5; i++) await lockout.recordFailure('acct-1', '10.0.0.5', 'familiar', now);
    expect(await lockout.state('acct-1', 'familiar')).toEqual({ locked: false, stepUp: false });
    expect(await lockout.state('acct-1', 'unfamiliar')).toEqual({ locked: false, stepUp: false });
    const before = await records.read('acct-1');
    expect([before.failures('familiar', now), before.failures('unfamiliar', now)]).toEqual([5, 5]);
    expect(await new AddressFailures(store, 300_000).count('198.51.100.7', now)).toBe(5);
    // The owner's success clears only the familiar count.
    await records.signedIn('acct-1', { deviceId: 'd'.repeat(22), family: 'firefox/linux', origin: 'familiar', maxDevices: 20, now }, before);
    const after = await records.read('acct-1');
    expect([after.failures('familiar', now), after.failures('unfamiliar', now)]).toEqual([0, 5]);
    expect(after.device('d'.repeat(22), now, KEEP)).toEqual({ family: 'firefox/linux', seenAt: now });
    expect((await lockout.recordFailure('acct-1', '198.51.100.7', 'unfamiliar', now)).lockedNow).toBe(true);
  });

  it('remembers at most maxDevices per account, forgetting the least recently seen', async () => {
    store = await open();
    const records = new AccountRiskRecords(store, KEEP);
    const now = Date.now();
    for (let i = 0; i < 4; i++) await records.signedIn('acct-1', { deviceId: `device${i}`.padEnd(22, 'x'), family: 'chrome/windows', origin: 'unfamiliar', maxDevices: 3, now: now + i }, await records.read('acct-1'));
    const snapshot = await records.read('acct-1');
    expect(snapshot.device('device0'.padEnd(22, 'x'), now + 10, KEEP)).toBeUndefined();
    expect(snapshot.device('device3'.padEnd(22, 'x'), now + 10, KEEP)).toBeDefined();
    expect(snapshot.staleDevices(3)).toEqual([]);
    // A remembered device older than the keep time is not known any more.
    expect(snapshot.device('device3'.padEnd(22, 'x'), now + KEEP + 3, KEEP)).toBeUndefined();
  });

  it('of concurrent failures past the limit exactly one reports the lock (one SOAR event)', async () => {
    store = await open();
    const lockout = new SmartLockout(new AccountLocks(store), new AccountRiskRecords(store, KEEP), new AddressFailures(store, 300_000), settings);
    const now = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => lockout.recordFailure('acct-1', '198.51.100.7', 'unfamiliar', now)));
    expect(outcomes.filter((outcome) => outcome.lockedNow)).toHaveLength(1);
    expect(await lockout.state('acct-1', 'unfamiliar')).toMatchObject({ locked: true });
  });

  it('an admin unlock (vestibule accounts unlock) lifts sign-in locks, and the count starts again', async () => {
    store = await open();
    const locks = new AccountLocks(store);
    const lockout = new SmartLockout(locks, new AccountRiskRecords(store, KEEP), new AddressFailures(store, 300_000), settings);
    const now = Date.now();
    for (let i = 0; i < 6; i++) await lockout.recordFailure('acct-1', '198.51.100.7', 'unfamiliar', now);
    expect(await locks.unlock('acct-1')).toBe(true);
    expect(await lockout.state('acct-1', 'unfamiliar')).toEqual({ locked: false, stepUp: false });
    expect((await lockout.recordFailure('acct-1', '198.51.100.7', 'unfamiliar', now)).failures).toBe(1);
    expect(await locks.unlock('acct-1')).toBe(false);
  });

  it('an account lock refuses every origin', async () => {
    store = await open();
    const locks = new AccountLocks(store);
    const lockout = new SmartLockout(locks, new AccountRiskRecords(store, KEEP), new AddressFailures(store, 300_000), settings);
    await locks.lock('acct-1', 'high_risk', 60_000);
    expect(await lockout.state('acct-1', 'familiar')).toMatchObject({ locked: true, kind: 'account', reason: 'high_risk' });
    expect(await lockout.state('acct-1', 'unfamiliar')).toMatchObject({ locked: true, kind: 'account' });
  });
});

describe('smart lockout timing (injected clock)', () => {
  it('the sign-in lock ends by itself after lockSeconds', async () => {
    const { MemoryStore } = await import('../../src/store/memory.js');
    let now = Date.parse('2026-12-01T10:00:00Z');
    const memory = new MemoryStore();
    const locks = new AccountLocks(memory, () => now);
    const lockout = new SmartLockout(locks, new AccountRiskRecords(memory, KEEP), new AddressFailures(memory, 300_000), settings);
    for (let i = 0; i < 6; i++) await lockout.recordFailure('acct-1', '198.51.100.7', 'unfamiliar', now);
    expect(await lockout.state('acct-1', 'unfamiliar')).toMatchObject({ locked: true, until: now + 900_000 });
    now += 900_000;
    expect(await lockout.state('acct-1', 'unfamiliar')).toEqual({ locked: false, stepUp: false });
    await memory.close();
  });
});
