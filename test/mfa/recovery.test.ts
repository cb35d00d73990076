// Recovery codes: shown once, stored hashed, each accepted once (also at the same moment), a new set replaces the old.
import { afterEach, describe, expect, it } from 'vitest';
import { hashRecoveryCode, normaliseRecoveryCode } from '../../src/mfa/recovery.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { outage, withFaults } from '../helpers/store-faults.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { mfaFixture, type MfaFixture } from './mfa-fixture.js';

const alice = { accountId: 'local:alice', interactionId: 'uid-1' };

describe('recovery code format', () => {
  it('normalises what people type (case, spaces, dashes, Crockford look-alikes) and refuses anything else', () => {
    const canonical = '0123456789ABCDEFGHJKMNPQRSTV';
    expect(normaliseRecoveryCode('0123-4567-89AB-CDEF-GHJK-MNPQ-RSTV')).toBe(canonical);
    expect(normaliseRecoveryCode(' o123 4567 89ab cdef ghjk mnpq rstv ')).toBe(canonical);
    expect(normaliseRecoveryCode('O1I3-4567-89AB-CDEF-GHJK-MNPQ-RSTV')).toBe('01134567' + canonical.slice(8));
    for (const bad of ['', '0123-4567', `${canonical}0`, `${canonical.slice(0, 27)}U`, `${canonical.slice(0, 27)}!`, 'x'.repeat(10_000), null, 42, {}]) {
      expect(normaliseRecoveryCode(bad)).toBeUndefined();
    }
  });

  it('binds the hash to the account', () => {
    expect(hashRecoveryCode('local:alice', 'A'.repeat(28))).not.toBe(hashRecoveryCode('local:bob', 'A'.repeat(28)));
  });
});

describe.each(STORE_BACKENDS)('recovery codes on the %s store', (_name, open) => {
  let store: KeyValueStore | undefined;
  afterEach(async () => {
    await closeTestStore(store);
    store = undefined;
  });

  async function enrolled(config = {}): Promise<{ mfa: MfaFixture; codes: string[] }> {
    store = await open();
    const mfa = mfaFixture(store, config);
    const { codes } = await mfa.recovery.startEnrolment(alice);
    expect(await mfa.recovery.finishEnrolment(alice)).toMatchObject({ ok: true, kind: 'recovery' });
    return { mfa, codes };
  }

  it('makes the configured number of distinct 140-bit codes and keeps only their hashes', async () => {
    const { mfa, codes } = await enrolled({ recovery: { codeCount: 12 } });
    expect(codes).toHaveLength(12);
    expect(new Set(codes).size).toBe(12);
    for (const code of codes) expect(code).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}$/);
    const raw = JSON.stringify(await mfa.credentials.records(alice.accountId));
    for (const code of codes) {
      expect(raw).not.toContain(code);
      expect(raw).not.toContain(normaliseRecoveryCode(code)!);
      expect(raw).toContain(hashRecoveryCode(alice.accountId, normaliseRecoveryCode(code)!));
    }
    expect(await mfa.recovery.remaining(alice.accountId)).toBe(12);
  });

  it('accepts each code once, in any typing, and counts what remains', async () => {
    const { mfa, codes } = await enrolled();
    expect(await mfa.recovery.finishVerification(alice, { code: codes[3]!.toLowerCase().replace(/-/g, ' ') })).toMatchObject({ ok: true, kind: 'recovery', amr: ['otp'] });
    expect(await mfa.recovery.finishVerification(alice, { code: codes[3]! })).toEqual({ ok: false, reason: 'replayed' });
    expect(await mfa.recovery.finishVerification(alice, { code: codes[4]! })).toMatchObject({ ok: true });
    expect(await mfa.recovery.remaining(alice.accountId)).toBe(8);
  });

  it('of concurrent uses of one code exactly one wins', async () => {
    const { mfa, codes } = await enrolled();
    const results = await Promise.all(Array.from({ length: 6 }, () => mfa.recovery.finishVerification(alice, { code: codes[0]! })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === 'replayed')).toHaveLength(5);
  });

  it('a use whose answer the store lost (the code was spent, the reply never came) still signs in once, and the code stays spent', async () => {
    store = await open();
    const faults = withFaults(store);
    const mfa = mfaFixture(faults.store, {});
    const { codes } = await mfa.recovery.startEnrolment(alice);
    await mfa.recovery.finishEnrolment(alice);
    faults.arm((method) => method === 'claim', outage, { after: true });
    expect(await mfa.recovery.finishVerification(alice, { code: codes[0]! })).toMatchObject({ ok: true, kind: 'recovery' });
    expect(faults.fired).toBe(true);
    expect(await mfa.recovery.finishVerification(alice, { code: codes[0]! })).toEqual({ ok: false, reason: 'replayed' });
    expect(await mfa.recovery.remaining(alice.accountId)).toBe(codes.length - 1);
  });

  it("refuses unknown, malformed and other accounts' codes; wrong answers count toward the budget", async () => {
    const { mfa, codes } = await enrolled({ maxFailedAttempts: 3 });
    expect(await mfa.recovery.finishVerification(alice, { code: 'not a code' })).toEqual({ ok: false, reason: 'malformed' });
    expect(await mfa.recovery.finishVerification(alice, { code: 'x'.repeat(100_000) })).toEqual({ ok: false, reason: 'malformed' });
    expect(await mfa.recovery.finishVerification({ accountId: 'local:bob', interactionId: 'uid-2' }, { code: codes[0]! })).toEqual({ ok: false, reason: 'no_factor' });
    for (let i = 0; i < 3; i++) expect(await mfa.recovery.finishVerification(alice, { code: '0000-0000-0000-0000-0000-0000-0000' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await mfa.recovery.finishVerification(alice, { code: codes[0]! })).toEqual({ ok: false, reason: 'too_many_attempts' });
  });

  it('a new set replaces the old one: the old codes stop working; an unconfirmed set changes nothing', async () => {
    const { mfa, codes: old } = await enrolled();
    const next = await mfa.recovery.startEnrolment({ ...alice, interactionId: 'uid-2' });
    expect(await mfa.recovery.finishVerification(alice, { code: old[0]! })).toMatchObject({ ok: true }); // not confirmed yet
    expect(await mfa.recovery.finishVerification(alice, { code: next.codes[0]! })).toEqual({ ok: false, reason: 'invalid' });
    expect(await mfa.recovery.finishEnrolment({ ...alice, interactionId: 'uid-2' })).toMatchObject({ ok: true });
    expect(await mfa.recovery.finishEnrolment({ ...alice, interactionId: 'uid-2' })).toEqual({ ok: false, reason: 'no_challenge' });
    expect(await mfa.recovery.finishVerification(alice, { code: old[1]! })).toEqual({ ok: false, reason: 'invalid' });
    expect(await mfa.recovery.finishVerification(alice, { code: next.codes[0]! })).toMatchObject({ ok: true });
    expect(await mfa.credentials.ofKind(alice.accountId, 'recovery')).toHaveLength(1);
  });
});
