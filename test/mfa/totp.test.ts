// TOTP: enrolment and verification with codes computed from the secret, one use per code (also at the same moment), bad input, sealing.
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from 'otpauth';
import { RedisStore } from '../../src/store/redis.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { mfaFixture, totpCode, type MfaFixture } from './mfa-fixture.js';

const alice = { accountId: 'local:alice', interactionId: 'uid-1', displayName: 'alice@example.test' };

describe.each(STORE_BACKENDS)('TOTP on the %s store', (_name, open) => {
  let store: KeyValueStore | undefined;
  afterEach(async () => {
    await closeTestStore(store);
    store = undefined;
  });

  /** A fixture with alice enrolled; answers the secret. */
  async function enrolled(config = {}): Promise<{ mfa: MfaFixture; secret: string; factorId: string }> {
    store = await open();
    const mfa = mfaFixture(store, config);
    const { secret } = await mfa.totp.startEnrolment(alice);
    const result = await mfa.totp.finishEnrolment(alice, { code: totpCode(secret, mfa.clock.now), label: 'Phone' });
    if (!result.ok) throw new Error(`enrolment failed: ${result.reason}`);
    mfa.clock.now += 30_000; // the enrolment code's step is spent: verify with the next one
    return { mfa, secret, factorId: result.factorId };
  }

  it('enrols with a key URI for authenticator apps (SHA-1, 6 digits, 30 s, the configured issuer) and a QR code', async () => {
    store = await open();
    const mfa = mfaFixture(store);
    const start = await mfa.totp.startEnrolment(alice);
    expect(start.secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
    const uri = new URL(start.uri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(start.secret);
    expect(uri.searchParams.get('issuer')).toBe('Vestibule');
    expect(uri.searchParams.get('algorithm')).toBe('SHA1');
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
    expect(decodeURIComponent(uri.pathname)).toContain('Vestibule:alice@example.test');
    expect(start.qrSvg.startsWith('<svg ')).toBe(true);
    // no ":" inside the issuer or the account: apps split the label on it
    const bare = await mfa.totp.startEnrolment({ accountId: 'oidc:corp:alice', interactionId: 'uid-9' });
    expect(decodeURIComponent(new URL(bare.uri).pathname)).toBe('/Vestibule:oidc corp alice');
    const done = await mfa.totp.finishEnrolment(alice, { code: totpCode(start.secret, mfa.clock.now) });
    expect(done).toMatchObject({ ok: true, kind: 'totp' });
    expect(await mfa.credentials.list(alice.accountId)).toEqual([expect.objectContaining({ kind: 'totp', label: 'Authenticator app' })]);
  });

  it('refuses to finish an enrolment with a wrong code, from another interaction, or twice', async () => {
    store = await open();
    const mfa = mfaFixture(store);
    const { secret } = await mfa.totp.startEnrolment(alice);
    const good = totpCode(secret, mfa.clock.now);
    const wrong = good === '000000' ? '111111' : '000000';
    expect(await mfa.totp.finishEnrolment(alice, { code: wrong })).toEqual({ ok: false, reason: 'invalid' });
    expect(await mfa.totp.finishEnrolment({ ...alice, interactionId: 'uid-other' }, { code: good })).toEqual({ ok: false, reason: 'no_challenge' });
    expect(await mfa.totp.finishEnrolment(alice, { code: good })).toMatchObject({ ok: true });
    expect(await mfa.totp.finishEnrolment(alice, { code: good })).toEqual({ ok: false, reason: 'no_challenge' });
    expect(await mfa.credentials.ofKind(alice.accountId, 'totp')).toHaveLength(1);
  });

  it('accepts the current code and the ones a step either side, yields otp, and refuses codes two steps away', async () => {
    const { mfa, secret, factorId } = await enrolled();
    const now = mfa.clock.now;
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, now - 60_000) })).toEqual({ ok: false, reason: 'invalid' });
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, now + 60_000) })).toEqual({ ok: false, reason: 'invalid' });
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, now - 30_000 + 1_000) })).toEqual({ ok: false, reason: 'replayed' }); // the enrolment's step
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, now) })).toEqual({ ok: true, factorId, kind: 'totp', amr: ['otp'], phishingResistant: false });
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, now + 30_000) })).toMatchObject({ ok: true });
    mfa.clock.now = now + 120_000; // a slow phone: the code of the step before the current one
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, now + 90_000) })).toMatchObject({ ok: true });
  });

  it('accepts a code once: the same code again is a replay, and so is an older step after a newer one', async () => {
    const { mfa, secret } = await enrolled({ totp: { window: 1 } });
    const now = mfa.clock.now;
    const current = totpCode(secret, now);
    const next = totpCode(secret, now + 30_000);
    expect(await mfa.totp.finishVerification(alice, { code: next })).toMatchObject({ ok: true });
    expect(await mfa.totp.finishVerification(alice, { code: next })).toEqual({ ok: false, reason: 'replayed' });
    if (current !== next) expect(await mfa.totp.finishVerification(alice, { code: current })).toEqual({ ok: false, reason: 'replayed' });
    mfa.clock.now += 30_000;
    expect(await mfa.totp.finishVerification(alice, { code: next })).toEqual({ ok: false, reason: 'replayed' });
  });

  it('of two verifications of one code at the same moment exactly one wins', async () => {
    const { mfa, secret } = await enrolled();
    const code = totpCode(secret, mfa.clock.now);
    const results = await Promise.all(Array.from({ length: 8 }, () => mfa.totp.finishVerification(alice, { code })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === 'replayed')).toHaveLength(7);
  });

  it('with the factors its caller read already: one of two same-moment uses wins, the answer is counted first, a factor removed meanwhile is not revived', async () => {
    const { mfa, secret, factorId } = await enrolled({ maxFailedAttempts: 3 });
    const code = totpCode(secret, mfa.clock.now);
    const factors = mfa.credentials.records(alice.accountId);
    const results = await Promise.all([mfa.totp.finishVerification(alice, { code }, factors), mfa.totp.finishVerification(alice, { code }, factors)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === 'replayed')).toHaveLength(1);
    mfa.clock.now += 30_000;
    const wrong = totpCode(secret, mfa.clock.now) === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) expect(await mfa.totp.finishVerification(alice, { code: wrong }, mfa.credentials.records(alice.accountId))).toEqual({ ok: false, reason: 'invalid' });
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, mfa.clock.now) }, mfa.credentials.records(alice.accountId))).toEqual({ ok: false, reason: 'too_many_attempts' });
    await mfa.attempts.succeeded(alice.accountId);
    // Read before an admin removes the factor: the code matches the read record, but the use neither counts nor writes the record back.
    const before = mfa.credentials.records(alice.accountId);
    await before;
    expect(await mfa.credentials.remove(alice.accountId, factorId)).toBe(true);
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, mfa.clock.now) }, before)).toEqual({ ok: false, reason: 'no_factor' });
    expect(await mfa.credentials.get(alice.accountId, factorId)).toBeUndefined();
  });

  it('refuses malformed and oversized codes without counting them, and accepts spaces between digit groups', async () => {
    const { mfa, secret } = await enrolled();
    for (const code of ['', '12345', '1234567', 'abcdef', '12 34 5x', '１２３４５６', '1'.repeat(10_000), null, 123456, { code: '123456' }]) {
      expect(await mfa.totp.finishVerification(alice, { code } as never)).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(await mfa.totp.finishVerification(alice, undefined as never)).toEqual({ ok: false, reason: 'malformed' });
    const code = totpCode(secret, mfa.clock.now);
    expect(await mfa.totp.finishVerification(alice, { code: `${code.slice(0, 3)} ${code.slice(3)}` })).toMatchObject({ ok: true });
  });

  it('refuses every answer, even the right one, after too many wrong ones in the window; a right answer clears the count', async () => {
    const { mfa, secret } = await enrolled({ maxFailedAttempts: 3, failedAttemptsWindowSeconds: 900 });
    const wrong = (at: number) => (totpCode(secret, at) === '000000' ? '111111' : '000000');
    expect(await mfa.totp.finishVerification(alice, { code: wrong(mfa.clock.now) })).toEqual({ ok: false, reason: 'invalid' });
    expect(await mfa.totp.finishVerification(alice, { code: wrong(mfa.clock.now) })).toEqual({ ok: false, reason: 'invalid' });
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, mfa.clock.now) })).toMatchObject({ ok: true });
    mfa.clock.now += 30_000;
    for (let i = 0; i < 3; i++) expect(await mfa.totp.finishVerification(alice, { code: wrong(mfa.clock.now) })).toEqual({ ok: false, reason: 'invalid' });
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, mfa.clock.now) })).toEqual({ ok: false, reason: 'too_many_attempts' });
    expect(await mfa.totp.finishVerification({ ...alice, accountId: 'local:bob' }, { code: '123456' })).toEqual({ ok: false, reason: 'no_factor' });
  });

  it('counts answers before checking them: of many wrong answers at the same moment only the budget is checked', async () => {
    const { mfa, secret } = await enrolled({ maxFailedAttempts: 3 });
    const wrong = totpCode(secret, mfa.clock.now) === '000000' ? '111111' : '000000';
    const results = await Promise.all(Array.from({ length: 10 }, () => mfa.totp.finishVerification(alice, { code: wrong })));
    expect(results.filter((r) => !r.ok && r.reason === 'invalid')).toHaveLength(3);
    expect(results.filter((r) => !r.ok && r.reason === 'too_many_attempts')).toHaveLength(7);
  });

  it('keeps the secret sealed in the store: not in clear, and a sealed secret copied to another account does not open', async () => {
    const { mfa, secret, factorId } = await enrolled();
    const key = `mfa-factor:${alice.accountId}:${factorId}`;
    const raw = store instanceof RedisStore ? String(await store.client.get(`${store.prefix}${key}`)) : JSON.stringify(await store!.get(key));
    expect(raw).toContain(factorId);
    expect(raw).toContain('"secret":{"v":1');
    expect(raw).not.toContain(secret);
    expect(raw).not.toContain(Buffer.from(Secret.fromBase32(secret).bytes).toString('base64'));
    expect(raw).not.toContain(Buffer.from(Secret.fromBase32(secret).bytes).toString('hex'));
    // a pending enrolment is sealed too
    const pending = await mfa.totp.startEnrolment({ ...alice, interactionId: 'uid-2' });
    expect(JSON.stringify(await store!.get(`mfa-totp-pending:${alice.accountId}:uid-2`))).not.toContain(pending.secret);
    // moved to bob, alice's record does not verify bob's codes
    const [record] = await mfa.credentials.records(alice.accountId);
    await mfa.credentials.add('local:bob', { ...record! });
    expect(await mfa.totp.finishVerification({ ...alice, accountId: 'local:bob' }, { code: totpCode(secret, mfa.clock.now) })).toEqual({ ok: false, reason: 'invalid' });
  });
});
