// Clock skew of ±2 minutes between broker processes and the upstreams (libfaketime shifts each process's clock): OIDC and SAML sign-ins, cross-instance tokens, re-verification and the upstream time checks behave per their documented tolerances.
import { existsSync } from 'node:fs';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { flushPrefix, openRedisStore, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';
import { SP_CERT, SP_KEY, TestIdp, b64 } from '../helpers/upstream-saml.js';
import { authnRequestFromRedirect, requestIdOf } from '../connectors/saml-setup.js';
import { auditRecordsOf, brokerProcess, killAllBrokerProcesses, writeSharedConfig, type AuditLine, type BrokerProcess } from './broker-process.js';
import { startFrontProxy, type FrontProxy } from './front-proxy.js';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const prefix = testPrefix('skew');
/** The `wide` provider's re-verification interval: a refresh grant a second after the last check asks the upstream. */
const REVERIFY_INTERVAL_SECONDS = 1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let proxy: FrontProxy;
let strict: TestUpstream;
let wide: TestUpstream;
/** Two minutes ahead of the upstreams (and of Redis and this test). */
let ahead: BrokerProcess;
/** Two minutes behind. */
let behind: BrokerProcess;
let rp: oidc.Configuration;

/** A SAML provider's configuration for the test IdP (whose clock is this process's). */
const samlConfig = (overrides: Record<string, unknown>) => ({ idp: { metadataXml: TestIdp.metadata() }, sp: { signingKey: SP_KEY, signingCert: SP_CERT }, schemaValidation: 'off', ...overrides });

/** The environment that shifts a process's wall clock by `seconds` (its monotonic clock is left alone: timers run normally). */
const shifted = (seconds: number) => ({ LD_PRELOAD: LIBFAKETIME, FAKETIME: `${seconds >= 0 ? '+' : ''}${seconds}`, FAKETIME_DONT_FAKE_MONOTONIC: '1' });

beforeAll(async () => {
  if (!existsSync(LIBFAKETIME)) throw new Error(`${LIBFAKETIME} is missing: apt-get install faketime (.ci/run does)`);
  proxy = await startFrontProxy();
  // ID tokens that live one minute: a broker two minutes ahead sees them expired a minute ago.
  strict = await startTestUpstream({ brokerIssuer: proxy.url, connectorId: 'strict', ttl: { idToken: 60 } });
  wide = await startTestUpstream({ brokerIssuer: proxy.url, connectorId: 'wide', ttl: { idToken: 60 } });
  const file = await writeSharedConfig({
    issuer: proxy.url,
    redisUrl: REDIS_URL,
    prefix,
    providers: [
      { id: 'strict', type: 'oidc', name: 'Strict SSO', domains: ['strict.test'], config: strict.connectorConfig() },
      { id: 'wide', type: 'oidc', name: 'Wide SSO', domains: ['wide.test'], reverifyIntervalSeconds: REVERIFY_INTERVAL_SECONDS, config: wide.connectorConfig({ clockToleranceSec: 150 }) },
      // SAML providers with the default clockSkewSeconds (120) and with 30.
      { id: 'saml', type: 'saml', name: 'Corp SAML', domains: ['saml.test'], config: samlConfig({}) },
      { id: 'saml-strict', type: 'saml', name: 'Strict SAML', domains: ['saml-strict.test'], config: samlConfig({ clockSkewSeconds: 30 }) },
    ],
    // Audit records show each re-verification; no sweep, so a refresh grant's own check is the only one.
    extra: { auditLog: 'stdout', session: { sweepIntervalSeconds: 3600 } },
  });
  ahead = brokerProcess(file, await freeLoopbackPort(), shifted(120));
  behind = brokerProcess(file, await freeLoopbackPort(), shifted(-120));
  await Promise.all([ahead.start(), behind.start()]);
  proxy.setBackends([ahead.port]);
  rp = await discoverRp(proxy.url);
}, 120_000);

afterAll(async () => {
  await killAllBrokerProcesses();
  await proxy?.close();
  await strict?.close();
  await wide?.close();
  const store = await openRedisStore({ prefix });
  await flushPrefix(store);
  await store.close();
});

/** A federated sign-in through `connector`, every request to `instance`; the RP callback URL, or the page that refused it. */
async function signIn(instance: BrokerProcess, connector: string) {
  proxy.setBackends([instance.port]);
  const request = await authorizationRequest(rp, TEST_CLIENT, { scope: 'openid email offline_access', prompt: 'consent', idp_hint: connector });
  const browser = new Browser();
  const atUpstream = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  const back = await browser.submit(atUpstream, '/login', { username: 'alice', password: 'alice-pw' }, TEST_CLIENT.redirectUri);
  if (back.status >= 400) return { refused: back };
  const callback = await completeLogin(browser, back, TEST_CLIENT.redirectUri);
  return { request, callback };
}

/**
 * A SAML sign-in through `connector`, every request to `instance`; the IdP (this process's clock) answers with an
 * assertion valid from 5 s before its now for one minute. The RP callback URL, or the page that refused the Response.
 */
async function samlSignIn(instance: BrokerProcess, connector: 'saml' | 'saml-strict') {
  proxy.setBackends([instance.port]);
  const spEntityId = `${proxy.url}/saml/${connector}/metadata`;
  const idp = new TestIdp(await (await fetch(spEntityId)).text());
  const request = await authorizationRequest(rp, TEST_CLIENT, { scope: 'openid email', idp_hint: connector });
  const browser = new Browser();
  const atIdp = await browser.follow(request.url.href, {}, idp.ssoUrl);
  const now = Date.now();
  const acs = `${proxy.url}/callback/${connector}`;
  const xml = await idp.responseXml(
    { inResponseTo: requestIdOf(authnRequestFromRedirect(atIdp.url)), nameId: 'carol', attributes: { email: 'carol@saml.test' }, sign: 'assertion', now, notOnOrAfter: now + 60_000, scdNotOnOrAfter: now + 60_000 },
    acs,
    spEntityId,
  );
  const posted = await browser.request(acs, { form: { SAMLResponse: b64(xml), RelayState: new URL(atIdp.url).searchParams.get('RelayState')! } });
  if (posted.status !== 303) return { refused: posted };
  const done = await browser.follow(new URL(posted.headers.get('location')!, proxy.url).href, {}, TEST_CLIENT.redirectUri);
  return { request, callback: await completeLogin(browser, done, TEST_CLIENT.redirectUri) };
}

const exchange = (signedIn: Awaited<ReturnType<typeof signIn>>) =>
  oidc.authorizationCodeGrant(rp, signedIn.callback!, { pkceCodeVerifier: signedIn.request!.verifier, expectedState: signedIn.request!.state, expectedNonce: signedIn.request!.nonce });

describe('clock skew of two minutes', () => {
  it('the shifted processes really run two minutes ahead and behind', async () => {
    const dateOf = async (instance: BrokerProcess) => Date.parse((await fetch(`${instance.url}/healthz`)).headers.get('date')!);
    expect((await dateOf(ahead)) - Date.now()).toBeGreaterThan(110_000);
    expect(Date.now() - (await dateOf(behind))).toBeGreaterThan(110_000);
  });

  it('an instance two minutes behind the upstream signs in: exp is in its future, and iat is not compared with its clock (OIDC Core leaves that to the RP)', async () => {
    const signedIn = await signIn(behind, 'strict');
    expect(signedIn.refused).toBeUndefined();
    expect((await exchange(signedIn)).claims()).toMatchObject({ email: 'alice@acme.test' });
  });

  it('an instance two minutes ahead refuses an upstream ID token that expired (by its clock) more than clockToleranceSec 30 ago, with a safe page', async () => {
    const signedIn = await signIn(ahead, 'strict');
    expect(signedIn.refused?.status).toBeGreaterThanOrEqual(400);
    expect(signedIn.refused?.body).toMatch(/role="alert"/);
    expect(signedIn.refused?.body).toContain('<code>invalid_id_token</code>');
    expect(signedIn.refused?.body).not.toMatch(/"exp"|claim|\bat \S+ \(/);
    expect(ahead.output()).toMatch(/exp|expired/i);
  });

  it('with clockToleranceSec 150 the same instance signs in', async () => {
    const signedIn = await signIn(ahead, 'wide');
    expect(signedIn.refused).toBeUndefined();
    expect((await exchange(signedIn)).claims()).toMatchObject({ email: 'alice@acme.test' });
  });

  it('refresh tokens and access tokens issued by one instance work at the other (their lifetimes are far longer than the skew)', async () => {
    const fromAhead = await exchange(await signIn(ahead, 'wide'));
    const fromBehind = await exchange(await signIn(behind, 'strict'));
    proxy.setBackends([behind.port]);
    expect((await oidc.refreshTokenGrant(rp, fromAhead.refresh_token!)).claims()?.sub).toBe(fromAhead.claims()?.sub);
    expect(await oidc.fetchUserInfo(rp, fromAhead.access_token, fromAhead.claims()!.sub)).toMatchObject({ sub: fromAhead.claims()!.sub });
    proxy.setBackends([ahead.port]);
    expect((await oidc.refreshTokenGrant(rp, fromBehind.refresh_token!)).claims()?.sub).toBe(fromBehind.claims()?.sub);
  });

  it('re-verification across the skew: each instance asks the upstream once the interval has passed by its own clock (the one ahead accepts the refreshed ID token within clockToleranceSec 150); the one behind does not re-check a session the one ahead just checked until that check falls due by its own clock', async () => {
    const tokens = await exchange(await signIn(behind, 'wide'));
    let refreshToken = tokens.refresh_token!;
    /** A refresh grant at `instance` once the interval has passed: the session's re-verification records it wrote meanwhile. */
    const refreshAt = async (instance: BrokerProcess): Promise<AuditLine[]> => {
      await sleep(REVERIFY_INTERVAL_SECONDS * 1000 + 100);
      const seen = auditRecordsOf(instance).length;
      proxy.setBackends([instance.port]);
      const refreshed = await oidc.refreshTokenGrant(rp, refreshToken);
      expect(refreshed.claims()?.sub).toBe(tokens.claims()?.sub);
      refreshToken = refreshed.refresh_token!;
      return auditRecordsOf(instance).slice(seen).filter((record) => record.event === 'session.reverified' && record.connectorId === 'wide');
    };
    const askedUpstream = [expect.objectContaining({ outcome: 'success', details: { upstreamAsked: true } })];
    // Two minutes behind the upstream: the refreshed ID token's exp is in its future.
    expect(await refreshAt(behind)).toEqual(askedUpstream);
    // Two minutes ahead: the refreshed ID token (60 s) expired a minute ago by its clock, within the tolerance.
    expect(await refreshAt(ahead)).toEqual(askedUpstream);
    // Behind again: the check made ahead is four minutes in its future, so the upstream is not asked (re-verification there is late by up to the skew between instances).
    expect((await refreshAt(behind)).filter((record) => record.details?.upstreamAsked === true)).toEqual([]);
  });

  it('SAML at the instance two minutes ahead: a one-minute assertion that expired a minute ago by its clock is accepted within clockSkewSeconds 120, refused (saml_expired) with 30', async () => {
    const signedIn = await samlSignIn(ahead, 'saml');
    expect(signedIn.refused).toBeUndefined();
    expect((await exchange(signedIn)).claims()).toMatchObject({ email: 'carol@saml.test' });
    const strictly = await samlSignIn(ahead, 'saml-strict');
    expect(strictly.refused?.status).toBeGreaterThanOrEqual(400);
    expect(strictly.refused?.status).toBeLessThan(500);
    expect(strictly.refused?.body).toContain('<code>saml_expired</code>');
  });

  it('SAML at the instance two minutes behind: an assertion whose NotBefore is two minutes in its future is accepted within clockSkewSeconds 120, refused (saml_not_yet_valid) with 30', async () => {
    const signedIn = await samlSignIn(behind, 'saml');
    expect(signedIn.refused).toBeUndefined();
    expect((await exchange(signedIn)).claims()).toMatchObject({ email: 'carol@saml.test' });
    const strictly = await samlSignIn(behind, 'saml-strict');
    expect(strictly.refused?.status).toBeGreaterThanOrEqual(400);
    expect(strictly.refused?.status).toBeLessThan(500);
    expect(strictly.refused?.body).toContain('<code>saml_not_yet_valid</code>');
  });

  it('an authorization code (60 s) issued by the instance behind is expired for the instance four minutes ahead of it: instance clocks must agree within the code lifetime', async () => {
    const signedIn = await signIn(behind, 'wide');
    proxy.setBackends([ahead.port]);
    await expect(exchange(signedIn)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
