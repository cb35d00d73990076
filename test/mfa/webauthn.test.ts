// WebAuthn: registration and assertion with a software authenticator; forged signatures, wrong origins, replays and cloned keys refused.
import { afterEach, describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../src/store/store.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../helpers/webauthn-authenticator.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { ISSUER, mfaFixture, type MfaFixture } from './mfa-fixture.js';

const alice = { accountId: 'local:alice', interactionId: 'uid-1', displayName: 'alice@example.test' };

describe.each(STORE_BACKENDS)('WebAuthn on the %s store', (_name, open) => {
  let store: KeyValueStore | undefined;
  afterEach(async () => {
    await closeTestStore(store);
    store = undefined;
  });

  async function registered(options: { synced?: boolean; counter?: 'increment' | 'zero' } = {}): Promise<{ mfa: MfaFixture; authenticator: SoftwareAuthenticator; factorId: string }> {
    store ??= await open(); // a second call in one test shares the store
    const mfa = mfaFixture(store);
    const authenticator = createSoftwareAuthenticator({ origin: ISSUER, ...options });
    const creation = await mfa.webauthn.startEnrolment(alice);
    const result = await mfa.webauthn.finishEnrolment(alice, { response: authenticator.register(creation), label: 'Laptop' });
    if (!result.ok) throw new Error(`registration failed: ${result.reason} ${result.detail ?? ''}`);
    return { mfa, authenticator, factorId: result.factorId };
  }

  it('registers a passkey with the rpID and origin of the issuer, no attestation, user verification preferred', async () => {
    store = await open();
    const mfa = mfaFixture(store);
    const creation = await mfa.webauthn.startEnrolment(alice);
    expect(creation.rp).toEqual({ name: 'Vestibule', id: 'broker.example.test' });
    expect(creation.attestation).toBe('none');
    expect(creation.authenticatorSelection?.userVerification).toBe('preferred');
    expect(creation.user.name).toBe('alice@example.test');
    expect(Buffer.from(creation.user.id, 'base64url').toString()).not.toContain('alice'); // the user handle is random
    const authenticator = createSoftwareAuthenticator({ origin: ISSUER });
    const result = await mfa.webauthn.finishEnrolment(alice, { response: authenticator.register(creation), label: 'Laptop' });
    expect(result).toMatchObject({ ok: true, kind: 'webauthn' });
    const [record] = await mfa.credentials.ofKind(alice.accountId, 'webauthn');
    expect(record).toMatchObject({ label: 'Laptop', credentialId: authenticator.credentialIds[0], deviceType: 'singleDevice', counter: 0 });
    // a second registration excludes the passkey already there
    const again = await mfa.webauthn.startEnrolment(alice);
    expect(again.excludeCredentials?.map((c) => c.id)).toEqual(authenticator.credentialIds);
    expect(again.user.id).toBe(creation.user.id);
  });

  it('signs in with the passkey: hwk for a device-bound key, swk for a synced one, phishing-resistant; the counter is kept', async () => {
    const { mfa, authenticator, factorId } = await registered();
    const request = await mfa.webauthn.startVerification(alice);
    expect(request.rpId).toBe('broker.example.test');
    expect(request.allowCredentials?.map((c) => c.id)).toEqual(authenticator.credentialIds);
    expect(await mfa.webauthn.finishVerification(alice, { response: authenticator.assert(request) })).toEqual({ ok: true, factorId, kind: 'webauthn', amr: ['hwk'], phishingResistant: true });
    expect((await mfa.credentials.get(alice.accountId, factorId))).toMatchObject({ counter: 1 });

    const synced = await registered({ synced: true, counter: 'zero' });
    const syncedRequest = await synced.mfa.webauthn.startVerification(alice);
    expect(await synced.mfa.webauthn.finishVerification(alice, { response: synced.authenticator.assert(syncedRequest) })).toMatchObject({ ok: true, amr: ['swk'] });
    const second = await synced.mfa.webauthn.startVerification(alice);
    expect(await synced.mfa.webauthn.finishVerification(alice, { response: synced.authenticator.assert(second) })).toMatchObject({ ok: true }); // counter 0 stays 0
  });

  it('refuses a forged signature', async () => {
    const { mfa, authenticator } = await registered();
    const request = await mfa.webauthn.startVerification(alice);
    expect(await mfa.webauthn.finishVerification(alice, { response: authenticator.assert(request, { forgeSignature: true }) })).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('refuses a response made for another origin or rpID (phishing site), at registration and at sign-in', async () => {
    store = await open();
    const mfa = mfaFixture(store);
    const authenticator = createSoftwareAuthenticator({ origin: ISSUER });
    const creation = await mfa.webauthn.startEnrolment(alice);
    expect(await mfa.webauthn.finishEnrolment(alice, { response: authenticator.register(creation, { origin: 'https://broker.example.test.evil.test' }) })).toMatchObject({ ok: false, reason: 'invalid', detail: expect.stringMatching(/origin/) });
    expect(await mfa.credentials.list(alice.accountId)).toEqual([]);

    const { mfa: mfa2, authenticator: auth2 } = await registered();
    const request = await mfa2.webauthn.startVerification(alice);
    expect(await mfa2.webauthn.finishVerification(alice, { response: auth2.assert(request, { origin: 'https://evil.test' }) })).toMatchObject({ ok: false, reason: 'invalid', detail: expect.stringMatching(/origin/) });
    const request2 = await mfa2.webauthn.startVerification(alice);
    expect(await mfa2.webauthn.finishVerification(alice, { response: auth2.assert(request2, { rpId: 'evil.test' }) })).toMatchObject({ ok: false, reason: 'invalid', detail: expect.stringMatching(/RP ID/i) });
  });

  it('refuses a replayed assertion, a challenge of another sign-in, and a signed-over foreign challenge', async () => {
    const { mfa, authenticator } = await registered();
    const request = await mfa.webauthn.startVerification(alice);
    const response = authenticator.assert(request);
    expect(await mfa.webauthn.finishVerification(alice, { response })).toMatchObject({ ok: true });
    expect(await mfa.webauthn.finishVerification(alice, { response })).toEqual({ ok: false, reason: 'no_challenge' });
    // the challenge was issued for uid-1: another interaction of alice cannot use it
    const other = await mfa.webauthn.startVerification(alice);
    expect(await mfa.webauthn.finishVerification({ ...alice, interactionId: 'uid-2' }, { response: authenticator.assert(other) })).toEqual({ ok: false, reason: 'no_challenge' });
    // a response to an old challenge, sent while a new one is pending
    const fresh = await mfa.webauthn.startVerification(alice);
    expect(await mfa.webauthn.finishVerification(alice, { response: authenticator.assert(fresh, { challenge: request.challenge }) })).toMatchObject({ ok: false, reason: 'invalid', detail: expect.stringMatching(/challenge/) });
    // the failed attempt spent the challenge too
    expect(await mfa.webauthn.finishVerification(alice, { response: authenticator.assert(fresh) })).toEqual({ ok: false, reason: 'no_challenge' });
  });

  it('refuses a counter that went backwards (a cloned authenticator)', async () => {
    const { mfa, authenticator, factorId } = await registered();
    for (let i = 0; i < 3; i++) {
      const request = await mfa.webauthn.startVerification(alice);
      expect(await mfa.webauthn.finishVerification(alice, { response: authenticator.assert(request) })).toMatchObject({ ok: true });
    }
    const request = await mfa.webauthn.startVerification(alice);
    expect(await mfa.webauthn.finishVerification(alice, { response: authenticator.assert(request, { counter: 2 }) })).toMatchObject({ ok: false, reason: 'counter_regression' });
    expect(await mfa.credentials.get(alice.accountId, factorId)).toMatchObject({ counter: 3 });
  });

  it("refuses another account's passkey, and one credential id registered to a second account", async () => {
    const { mfa, authenticator } = await registered();
    const bob = { accountId: 'local:bob', interactionId: 'uid-9' };
    const request = await mfa.webauthn.startVerification(bob);
    expect(await mfa.webauthn.finishVerification(bob, { response: authenticator.assert({ ...request, allowCredentials: [{ id: authenticator.credentialIds[0]!, type: 'public-key' }] }) })).toEqual({ ok: false, reason: 'no_factor' });
    // an authenticator reporting alice's credential id for bob's new key is refused: one credential, one account
    const creation = await mfa.webauthn.startEnrolment(bob);
    const hostile = createSoftwareAuthenticator({ origin: ISSUER });
    expect(await mfa.webauthn.finishEnrolment(bob, { response: hostile.register(creation, { credentialId: authenticator.credentialIds[0]! }) })).toEqual({ ok: false, reason: 'invalid', detail: 'credential id already registered' });
    expect(await mfa.credentials.list(bob.accountId)).toEqual([]);
  });

  it('of two finishes of one assertion at the same moment exactly one wins', async () => {
    const { mfa, authenticator } = await registered();
    const request = await mfa.webauthn.startVerification(alice);
    const response = authenticator.assert(request);
    const results = await Promise.all([1, 2, 3].map(() => mfa.webauthn.finishVerification(alice, { response })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === 'no_challenge')).toHaveLength(2);
  });

  it('refuses malformed and oversized responses before any verification', async () => {
    const { mfa, authenticator } = await registered();
    const request = await mfa.webauthn.startVerification(alice);
    const good = authenticator.assert(request);
    const cases: unknown[] = [
      undefined,
      null,
      'a string',
      { ...good, type: 'password' },
      { ...good, id: '' },
      { ...good, response: { ...good.response, signature: 'not base64url!' } },
      { ...good, response: { ...good.response, authenticatorData: 42 } },
      { ...good, response: { ...good.response, clientDataJSON: 'A'.repeat(20_000) } },
      { ...good, padding: 'x'.repeat(20_000) },
    ];
    for (const response of cases) expect(await mfa.webauthn.finishVerification(alice, { response })).toEqual({ ok: false, reason: 'malformed' });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(await mfa.webauthn.finishVerification(alice, { response: circular })).toEqual({ ok: false, reason: 'malformed' });
    // the challenge is still there for the real answer
    expect(await mfa.webauthn.finishVerification(alice, { response: good })).toMatchObject({ ok: true });
  });

  it('refuses a response with garbage in clientDataJSON and a tampered authenticatorData', async () => {
    const { mfa, authenticator } = await registered();
    const request = await mfa.webauthn.startVerification(alice);
    const good = authenticator.assert(request);
    const data = Buffer.from(good.response.authenticatorData, 'base64url');
    data[32] = data[32]! ^ 0x04; // flip the UV flag after signing
    expect(await mfa.webauthn.finishVerification(alice, { response: { ...good, response: { ...good.response, authenticatorData: data.toString('base64url') } } })).toMatchObject({ ok: false, reason: 'invalid' });
    const request2 = await mfa.webauthn.startVerification(alice);
    const good2 = authenticator.assert(request2);
    expect(await mfa.webauthn.finishVerification(alice, { response: { ...good2, response: { ...good2.response, clientDataJSON: Buffer.from('{not json').toString('base64url') } } })).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('with user verification required, refuses an authenticator that did not verify the user', async () => {
    store = await open();
    const mfa = mfaFixture(store, { webauthn: { userVerification: 'required', challengeTtlSeconds: 300 } });
    const authenticator = createSoftwareAuthenticator({ origin: ISSUER, userVerification: false });
    const creation = await mfa.webauthn.startEnrolment(alice);
    expect(await mfa.webauthn.finishEnrolment(alice, { response: authenticator.register(creation) })).toMatchObject({ ok: false, reason: 'invalid', detail: expect.stringMatching(/verif/i) });
  });
});
