// The credential repository: factors per account without secrets in listings, removal, a stable random WebAuthn user handle.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanLabel } from '../../src/mfa/credentials.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { createSoftwareAuthenticator } from '../helpers/webauthn-authenticator.js';
import { ISSUER, mfaFixture, totpCode } from './mfa-fixture.js';

const alice = { accountId: 'local:alice', interactionId: 'uid-1' };

describe('cleanLabel', () => {
  it.each([
    ['Phone', 'Phone'],
    ['  YubiKey 5  ', 'YubiKey 5'],
    ['a\u0000b\u202Ec\u200Bd', 'abcd'],
    ['x'.repeat(500), 'x'.repeat(64)],
    ['   ', undefined],
    [42, undefined],
    [undefined, undefined],
  ])('%j -> %j', (input, expected) => {
    expect(cleanLabel(input)).toBe(expected);
  });
});

describe.each(STORE_BACKENDS)('credential repository on the %s store', (_name, open) => {
  let store: KeyValueStore | undefined;
  afterEach(async () => {
    await closeTestStore(store);
    store = undefined;
  });

  it('lists factors oldest first without secrets, removes one, then all (freeing the passkey id)', async () => {
    store = await open();
    const mfa = mfaFixture(store);
    expect(await mfa.credentials.hasAny(alice.accountId)).toBe(false);
    const { secret } = await mfa.totp.startEnrolment(alice);
    const totp = await mfa.totp.finishEnrolment(alice, { code: totpCode(secret, mfa.clock.now) });
    mfa.clock.now += 1000;
    const authenticator = createSoftwareAuthenticator({ origin: ISSUER });
    const passkey = await mfa.webauthn.finishEnrolment(alice, { response: authenticator.register(await mfa.webauthn.startEnrolment(alice)) });
    if (!totp.ok || !passkey.ok) throw new Error('enrolment failed');

    const listed = await mfa.credentials.list(alice.accountId);
    expect(listed.map((f) => [f.id, f.kind])).toEqual([[totp.factorId, 'totp'], [passkey.factorId, 'webauthn']]);
    expect(JSON.stringify(listed)).not.toMatch(/secret|publicKey|credentialId/);
    expect(await mfa.credentials.hasAny(alice.accountId)).toBe(true);
    expect(await mfa.credentials.list('local:bob')).toEqual([]);

    expect(await mfa.credentials.remove(alice.accountId, totp.factorId)).toBe(true);
    expect(await mfa.credentials.remove(alice.accountId, totp.factorId)).toBe(false);
    expect(await mfa.credentials.removeAll(alice.accountId)).toBe(1);
    expect(await mfa.credentials.hasAny(alice.accountId)).toBe(false);
    expect(await store.get(`mfa-webauthn-credential:${authenticator.credentialIds[0]}`)).toBeUndefined();
  });

  it('never writes back a factor removed while one of its codes was being verified (admin reset during a step-up)', async () => {
    store = await open();
    const backing = store;
    let raceArmed = false;
    // The store the verification uses: its in-place update of the factor comes right after the admin removed it.
    const racing = new Proxy(backing, {
      get(target, property, receiver) {
        if (property === 'assign') {
          return async (key: string, fields: Record<string, unknown>) => {
            if (raceArmed) await mfa.credentials.removeAll(alice.accountId);
            return target.assign(key, fields);
          };
        }
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const mfa = mfaFixture(racing);
    const { secret } = await mfa.totp.startEnrolment(alice);
    await mfa.totp.finishEnrolment(alice, { code: totpCode(secret, mfa.clock.now) });
    mfa.clock.now += 30_000;
    raceArmed = true;
    expect(await mfa.totp.finishVerification(alice, { code: totpCode(secret, mfa.clock.now) })).toEqual({ ok: false, reason: 'no_factor' });
    raceArmed = false;
    expect(await mfa.credentials.list(alice.accountId)).toEqual([]);
    expect(await backing.mapGetAll(`mfa-factors:${alice.accountId}`)).toEqual({});
  });

  it('gives an account one random user handle, the same under concurrent first use', async () => {
    store = await open();
    const mfa = mfaFixture(store);
    const handles = await Promise.all([1, 2, 3, 4].map(() => mfa.credentials.userHandle(alice.accountId)));
    expect(new Set(handles).size).toBe(1);
    expect(Buffer.from(handles[0]!, 'base64url')).toHaveLength(32);
    expect(await mfa.credentials.userHandle('local:bob')).not.toBe(handles[0]);
  });

  it('refuses a new factor beyond maxFactorsPerAccount', async () => {
    store = await open();
    const mfa = mfaFixture(store, { maxFactorsPerAccount: 1 });
    const { secret } = await mfa.totp.startEnrolment(alice);
    expect(await mfa.totp.finishEnrolment(alice, { code: totpCode(secret, mfa.clock.now) })).toMatchObject({ ok: true });
    const second = await mfa.totp.startEnrolment({ ...alice, interactionId: 'uid-2' });
    mfa.clock.now += 30_000;
    expect(await mfa.totp.finishEnrolment({ ...alice, interactionId: 'uid-2' }, { code: totpCode(second.secret, mfa.clock.now) })).toEqual({ ok: false, reason: 'limit_reached' });
    const authenticator = createSoftwareAuthenticator({ origin: ISSUER });
    expect(await mfa.webauthn.finishEnrolment(alice, { response: authenticator.register(await mfa.webauthn.startEnrolment(alice)) })).toEqual({ ok: false, reason: 'limit_reached' });
    await mfa.recovery.startEnrolment(alice);
    expect(await mfa.recovery.finishEnrolment(alice)).toEqual({ ok: false, reason: 'limit_reached' });
  });
});
