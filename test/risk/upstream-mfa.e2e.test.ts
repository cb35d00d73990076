// An upstream that did MFA counts as MFA (issue 11): a client requiring MFA gets no factor prompt after it, and the ID token carries the mfa acr and the upstream's methods mapped across; a password-only upstream sign-in is stepped up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA } from '../../src/mfa/assurance.js';
import { Browser } from '../helpers/browser.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import type { RpClient } from '../helpers/rp.js';
import { atFactorPage, authorize, exchange, untilClient } from '../helpers/step-up.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

const MFA_CLIENT: RpClient = { clientId: 'payroll', clientSecret: 'payroll-secret-0123456789abcdefghijklmnop', redirectUri: 'http://127.0.0.1:1/payroll-cb' };

describe('upstream assurance', () => {
  let broker: TestBroker;
  let mfaUpstream: TestUpstream;
  let passwordUpstream: TestUpstream;

  beforeAll(async () => {
    const port = await freeLoopbackPort();
    const brokerIssuer = `http://127.0.0.1:${port}`;
    mfaUpstream = await startTestUpstream({ brokerIssuer, connectorId: 'corp-mfa', loginAcr: 'urn:upstream:acr:mfa', loginAmr: ['pwd', 'otp'] });
    passwordUpstream = await startTestUpstream({ brokerIssuer, connectorId: 'corp-pwd' });
    broker = await startBroker({
      port,
      providers: [
        { id: 'corp-mfa', type: 'oidc', name: 'Corp with MFA', domains: ['mfa.test'], config: mfaUpstream.connectorConfig() },
        { id: 'corp-pwd', type: 'oidc', name: 'Corp password', domains: ['pwd.test'], config: passwordUpstream.connectorConfig() },
      ],
      config: { clients: [{ clientId: MFA_CLIENT.clientId, clientSecret: MFA_CLIENT.clientSecret, redirectUris: [MFA_CLIENT.redirectUri], skipConsent: true, risk: { minAcr: ACR_MFA } }] },
    });
  });

  afterAll(async () => {
    await broker?.close();
    await mfaUpstream?.close();
    await passwordUpstream?.close();
  });

  it('an upstream MFA satisfies a client that requires MFA: no factor page, acr mfa, the upstream otp in amr', async () => {
    const auth = await authorize(broker.issuer, new Browser(), MFA_CLIENT, { idp_hint: 'corp-mfa' });
    const back = await auth.browser.submit(auth.page, '/login', { username: 'alice', password: 'alice-pw' }, MFA_CLIENT.redirectUri);
    expect(atFactorPage(back)).toBe(false);
    const tokens = await exchange(auth, await untilClient(auth, back));
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: expect.arrayContaining(['pwd', 'otp', 'mfa']) });
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'risk.evaluated', connectorId: 'corp-mfa', details: expect.objectContaining({ phase: 'sign-in', upstreamMfa: true }) }));
  });

  it('a password-only upstream sign-in to the same client is asked for a second factor at the broker', async () => {
    const auth = await authorize(broker.issuer, new Browser(), MFA_CLIENT, { idp_hint: 'corp-pwd' });
    const next = await auth.browser.submit(auth.page, '/login', { username: 'alice', password: 'alice-pw' }, MFA_CLIENT.redirectUri);
    expect(atFactorPage(next)).toBe(true);
    expect(next.body).toContain('data-totp-secret');
  });
});
