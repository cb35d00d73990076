// SAML re-verification over real HTTP with the demo samlify IdP and a fake clock, on the memory store and on Redis: a due session is marked, its next authorization makes a passive round trip, NoPassive ends it; forged, replayed, cross-browser and concurrent answers.
import { inflateRawSync } from 'node:zlib';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSamlServiceProvider } from '../../src/connectors/saml.js';
import { startDemoUpstreamSaml } from '../../src/demo/upstream-saml.js';
import { Browser, forms, type Page } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';
import { disposeRedisStore, openRedisStore } from '../helpers/redis.js';
import type { RedisStore } from '../../src/store/redis.js';
import type { KeyValueStore } from '../../src/store/store.js';

const CONNECTOR = 'demo-saml';
const INTERVAL_S = 600;
const GRACE_S = 120;
let broker: TestBroker;
let demo: Awaited<ReturnType<typeof startDemoUpstreamSaml>>;
let rp: oidc.Configuration;
// The broker's and the IdP's clock: real time moved on by `offset`.
let offset = 0;
const now = () => Date.now() + offset;

/** The demo IdP and a broker on `store` (default: the memory store on the fake clock). */
async function startWorld(store?: KeyValueStore) {
  const port = await freeLoopbackPort();
  demo = await startDemoUpstreamSaml({
    port: 0,
    brokerIssuer: `http://127.0.0.1:${port}`,
    connectorId: CONNECTOR,
    now,
    spMetadata: async () => {
      const connector = broker.app.broker.connectors.get(CONNECTOR)!;
      if (!isSamlServiceProvider(connector)) throw new Error('not a SAML connector');
      return connector.spMetadata();
    },
  });
  broker = await startBroker({
    port,
    now,
    ...(store ? { store } : {}),
    providers: [{ ...demo.providerFile, reverifyIntervalSeconds: INTERVAL_S, config: { ...demo.providerFile.config, schemaValidation: 'off', reauthentication: { graceSeconds: GRACE_S } } }],
    config: { tokens: { accessTokenTtl: 86400 } },
  });
  rp = await discoverRp(broker.issuer);
}

/** Signs `username` in at the demo IdP through the broker (offline_access): tokens, account id and the broker session id. */
async function signIn(browser = new Browser(), username = 'sam') {
  const request = await authorizationRequest(rp, TEST_CLIENT, { scope: 'openid email offline_access', prompt: 'consent' });
  const idpPage = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  const acs = await browser.submit(idpPage, '/login', { username, password: `${username}-demo-password` });
  const back = await browser.submit(acs, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri);
  const callback = await completeLogin(browser, back, TEST_CLIENT.redirectUri);
  const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
  const accountId = tokens.claims()!.sub;
  const sessionId = (await broker.app.broker.sessions.sessionsOf(accountId, now())).at(-1)!;
  return { browser, tokens, accountId, sessionId };
}

/** A new authorization in the browser, up to the first page that is not a redirect (or the RP's redirect URI). */
async function authorize(browser: Browser) {
  const request = await authorizationRequest(rp, TEST_CLIENT, { scope: 'openid email' });
  const page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  return { request, page };
}

/** The demo IdP's auto-POST back to the broker ACS on `page`. */
const acsForm = (page: Page) => forms(page).find((f) => f.action.endsWith(`/callback/${CONNECTOR}`));

/** Moves the clock past the interval and sweeps: every due session is marked for re-authentication. */
async function markDue() {
  offset += (INTERVAL_S + 1) * 1000;
  await broker.app.scheduler.sweepOnce();
}

const session = (accountId: string, sessionId: string) => broker.app.broker.sessions.get(accountId, sessionId);
const eventsSince = (mark: number) => broker.audit.slice(mark);

describe.each(['memory', 'redis'] as const)('on the %s store', (kind) => {
  let redis: RedisStore | undefined;
  beforeAll(async () => {
    redis = kind === 'redis' ? await openRedisStore() : undefined;
    await startWorld(redis);
  });
  afterAll(async () => {
    await broker?.close();
    await demo?.close();
    if (redis) await disposeRedisStore(redis);
  });

  describe('a SAML session due for re-verification', () => {
    it('is marked at the interval; its next authorization goes through the IdP with IsPassive and, answered for the same user, keeps the session and its tokens', async () => {
      const { browser, tokens, accountId, sessionId } = await signIn();
      await markDue();
      const marked = await session(accountId, sessionId);
      expect(marked?.reauth).toMatchObject({ mode: 'passive' });
      // Within the grace a marked session still serves its refresh token.
      const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
      const passiveBefore = demo.passiveAnswers.length;
      const audit = broker.audit.length;
      const { request, page } = await authorize(browser);
      // No broker page and no IdP sign-in form: the IdP answered the passive request at once.
      expect(demo.passiveAnswers.slice(passiveBefore)).toEqual(['success']);
      expect(acsForm(page)).toBeDefined();
      const sso = new URL(browser.history.filter((url) => url.startsWith(demo.url) && url.includes('/sso?')).at(-1)!);
      expect(inflateRawSync(Buffer.from(sso.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8')).toContain('IsPassive="true"');
      expect(browser.history.some((url) => url.includes('/interaction/') && url.endsWith('/login'))).toBe(false);
      const atRp = await browser.submit(page, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri);
      const again = await oidc.authorizationCodeGrant(rp, new URL(atRp.url), { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      expect(again.claims()!.sub).toBe(accountId);
      // Nobody signed in again: the browser's login (auth_time) stands.
      expect(again.claims()!.auth_time).toBe(tokens.claims()!.auth_time);
      const kept = await session(accountId, sessionId);
      expect(kept?.reauth ?? undefined).toBeUndefined();
      expect(kept?.lastVerifiedAt).toBeGreaterThanOrEqual(marked!.reauth!.at);
      expect(kept?.nextCheckAt).toBe(kept!.lastVerifiedAt + INTERVAL_S * 1000);
      expect(await broker.app.broker.sessions.sessionsOf(accountId, now())).toContain(sessionId);
      expect((await oidc.refreshTokenGrant(rp, refreshed.refresh_token ?? tokens.refresh_token!)).access_token).toBeTruthy();
      expect(eventsSince(audit)).toContainEqual(expect.objectContaining({ event: 'session.reverified', outcome: 'success', accountId, details: expect.objectContaining({ upstreamAsked: true, reauthentication: 'passive' }) }));
      expect(eventsSince(audit).some((e) => e.event === 'session.ended' || e.event === 'login.success')).toBe(false);
    });

    it('answered NoPassive (the IdP session is gone), ends the session: audited, its refresh token refused, the browser asked to sign in again', async () => {
      const { browser, tokens, accountId, sessionId } = await signIn();
      await markDue();
      demo.endSessionsOf('sam');
      const audit = broker.audit.length;
      const { page } = await authorize(browser);
      expect(demo.passiveAnswers.at(-1)).toBe('no_passive');
      const next = await browser.submit(page, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri);
      // The same interaction goes on as a new sign-in: the IdP's sign-in form, not a passive request.
      expect(next.body).toContain('Demo SAML IdP — sign in');
      expect(await session(accountId, sessionId)).toBeUndefined();
      await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      const events = eventsSince(audit);
      expect(events).toContainEqual(expect.objectContaining({ event: 'session.reverified', outcome: 'failure', reason: 'saml_no_passive', accountId }));
      expect(events.filter((e) => e.event === 'session.ended')).toEqual([expect.objectContaining({ reason: 'upstream_reauth_failed', accountId })]);
      // Nothing of the assertion or tokens reaches the audit trail.
      expect(JSON.stringify(events)).not.toContain('SAMLResponse');
    });

    it('left without a browser round trip past its grace, ends at the sweep (upstream_reauth_timeout); its refresh token is then refused', async () => {
      const { tokens, accountId, sessionId } = await signIn();
      await markDue();
      offset += (GRACE_S + 1) * 1000;
      await broker.app.scheduler.sweepOnce();
      expect(await session(accountId, sessionId)).toBeUndefined();
      expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'upstream_reauth_timeout', accountId }));
      await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    });

    it('under prompt=none answers login_required (no round trip without an interaction) and keeps the mark', async () => {
      const { browser, accountId, sessionId } = await signIn();
      await markDue();
      const request = await authorizationRequest(rp, TEST_CLIENT, { scope: 'openid email', prompt: 'none' });
      const page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
      expect(new URL(page.url).searchParams.get('error')).toBe('login_required');
      expect((await session(accountId, sessionId))?.reauth).toBeTruthy();
    });
  });

  describe('the passive answer is refused when', () => {
    it('forged (NameID changed after signing): 400, audited, the session stays marked and live', async () => {
      const { browser, accountId, sessionId } = await signIn();
      await markDue();
      const { page } = await authorize(browser);
      const form = acsForm(page)!;
      const xml = Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8').replace('>sam</saml:NameID>', '>ada</saml:NameID>');
      const audit = broker.audit.length;
      const answer = await browser.request(form.action, { form: { SAMLResponse: Buffer.from(xml).toString('base64'), RelayState: form.fields.RelayState! } });
      expect(answer.status).toBe(400);
      expect(eventsSince(audit)).toContainEqual(expect.objectContaining({ event: 'upstream.callback.rejected' }));
      expect(eventsSince(audit).some((e) => e.event === 'session.ended' || e.event === 'session.reverified')).toBe(false);
      expect((await session(accountId, sessionId))?.reauth).toBeTruthy();
    });

    it('oversized: 413 before anything is read, the session stays marked', async () => {
      const { browser, accountId, sessionId } = await signIn();
      await markDue();
      const { page } = await authorize(browser);
      const form = acsForm(page)!;
      const answer = await browser.request(form.action, { form: { SAMLResponse: 'A'.repeat(broker.config.maxBodyBytes + 1), RelayState: form.fields.RelayState! } });
      expect(answer.status).toBe(413);
      expect((await session(accountId, sessionId))?.reauth).toBeTruthy();
    });

    it('replayed (an earlier passive Response posted to a later round trip): refused, the session stays marked', async () => {
      const { browser, accountId, sessionId } = await signIn();
      await markDue();
      const first = await authorize(browser);
      const used = acsForm(first.page)!;
      await browser.submit(first.page, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri);
      await markDue();
      const second = await authorize(browser);
      const relayState = acsForm(second.page)!.fields.RelayState!;
      const audit = broker.audit.length;
      const replay = await browser.request(used.action, { form: { SAMLResponse: used.fields.SAMLResponse!, RelayState: relayState } });
      expect(replay.status).toBe(400);
      expect(eventsSince(audit).find((e) => e.event === 'upstream.callback.rejected')?.reason).toMatch(/^saml_(in_response_to_mismatch|replay)$/);
      expect((await session(accountId, sessionId))?.reauth).toBeTruthy();
    });

    it('finished by another browser (success or NoPassive): 400 callback_wrong_browser, the session neither confirmed nor ended', async () => {
      const { browser, accountId, sessionId } = await signIn();
      await markDue();
      const mark = (await session(accountId, sessionId))!.reauth;
      const attacker = new Browser();
      const { page } = await authorize(browser);
      const stolen = await attacker.submit(page, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri);
      expect(stolen.status).toBe(400);
      expect(stolen.body).toContain('callback_wrong_browser');
      demo.endSessionsOf('sam');
      const refused = await authorize(browser);
      const stolenRefusal = await attacker.submit(refused.page, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri);
      expect(stolenRefusal.status).toBe(400);
      expect((await session(accountId, sessionId))?.reauth).toEqual(mark);
      expect(broker.audit.filter((e) => e.event === 'upstream.callback.rejected' && e.reason === 'browser_mismatch').length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('concurrency', () => {
    it('two browsers of one user (two sessions): re-authenticating one leaves the other marked and its tokens working', async () => {
      const one = await signIn(new Browser());
      const two = await signIn(new Browser());
      expect(two.sessionId).not.toBe(one.sessionId);
      await markDue();
      const otherMark = (await session(two.accountId, two.sessionId))!.reauth;
      const { page } = await authorize(one.browser);
      await one.browser.submit(page, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri);
      expect((await session(one.accountId, one.sessionId))?.reauth ?? undefined).toBeUndefined();
      expect((await session(two.accountId, two.sessionId))?.reauth).toEqual(otherMark);
      expect((await oidc.refreshTokenGrant(rp, two.tokens.refresh_token!)).access_token).toBeTruthy();
    });

    it('two authorizations at the same moment on a marked session: one confirmation recorded, the session kept, no 500', async () => {
      const { browser, accountId, sessionId } = await signIn();
      await markDue();
      const audit = broker.audit.length;
      const flows = await Promise.all([authorize(browser), authorize(browser)]);
      const ends = await Promise.all(flows.map(({ page }) => browser.submit(page, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri)));
      // At least one passes; the other passes too, or (rarely, when oidc-provider saves the first one's browser session
      // while the second resumes) answers 400 "interaction session and authentication session mismatch": never a 5xx.
      const codes = ends.filter((end) => new URL(end.url).searchParams.get('code'));
      expect(codes.length).toBeGreaterThanOrEqual(1);
      for (const end of ends) expect(end.status).toBeLessThan(500);
      const confirmations = eventsSince(audit).filter((e) => e.event === 'session.reverified' && e.details?.upstreamAsked === true);
      expect(confirmations).toHaveLength(1);
      expect((await session(accountId, sessionId))?.reauth ?? undefined).toBeUndefined();
    });

    it('two authorizations at the same moment answered NoPassive: the session ends once, no 500', async () => {
      const { browser, accountId, sessionId } = await signIn();
      await markDue();
      demo.endSessionsOf('sam');
      const audit = broker.audit.length;
      const flows = await Promise.all([authorize(browser), authorize(browser)]);
      const ends = await Promise.all(flows.map(({ page }) => browser.submit(page, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri)));
      for (const end of ends) expect(end.status).toBe(200);
      expect(eventsSince(audit).filter((e) => e.event === 'session.ended')).toEqual([expect.objectContaining({ reason: 'upstream_reauth_failed', accountId })]);
      expect(await session(accountId, sessionId)).toBeUndefined();
    });
  });

  describe('without a sweep', () => {
    it('an authorization on an overdue session checks it first (lazy check), which marks it, and makes the round trip at once', async () => {
      const { browser, accountId, sessionId } = await signIn();
      offset += (INTERVAL_S + 1) * 1000;
      const passiveBefore = demo.passiveAnswers.length;
      const { page } = await authorize(browser);
      expect(demo.passiveAnswers.slice(passiveBefore)).toEqual(['success']);
      const end = await browser.submit(page, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri);
      expect(new URL(end.url).searchParams.get('code')).toBeTruthy();
      const kept = await session(accountId, sessionId);
      expect(kept?.reauth ?? undefined).toBeUndefined();
      expect(kept?.nextCheckAt).toBeGreaterThan(now());
    });
  });
});

describe('reauthentication.mode force', () => {
  let forced: TestBroker;
  let forcedIdp: Awaited<ReturnType<typeof startDemoUpstreamSaml>>;
  beforeAll(async () => {
    const port = await freeLoopbackPort();
    forcedIdp = await startDemoUpstreamSaml({
      port: 0,
      brokerIssuer: `http://127.0.0.1:${port}`,
      connectorId: CONNECTOR,
      now,
      spMetadata: async () => {
        const connector = forced.app.broker.connectors.get(CONNECTOR)!;
        if (!isSamlServiceProvider(connector)) throw new Error('not a SAML connector');
        return connector.spMetadata();
      },
    });
    forced = await startBroker({
      port,
      now,
      providers: [{ ...forcedIdp.providerFile, reverifyIntervalSeconds: INTERVAL_S, config: { ...forcedIdp.providerFile.config, schemaValidation: 'off', reauthentication: { mode: 'force' } } }],
      config: { tokens: { accessTokenTtl: 86400 } },
    });
  });
  afterAll(async () => {
    await forced?.close();
    await forcedIdp?.close();
  });

  it('sends ForceAuthn: the IdP asks the user to sign in again although it has a session; the same user keeps the session', async () => {
    const forcedRp = await discoverRp(forced.issuer);
    const browser = new Browser();
    const first = await authorizationRequest(forcedRp, TEST_CLIENT, { scope: 'openid email' });
    const idpPage = await browser.follow(first.url.href, {}, TEST_CLIENT.redirectUri);
    const acs = await browser.submit(idpPage, '/login', { username: 'sam', password: 'sam-demo-password' });
    const callback = await completeLogin(browser, await browser.submit(acs, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri), TEST_CLIENT.redirectUri);
    const accountId = (await oidc.authorizationCodeGrant(forcedRp, callback, { pkceCodeVerifier: first.verifier, expectedState: first.state, expectedNonce: first.nonce, idTokenExpected: true })).claims()!.sub;
    const sessionId = (await forced.app.broker.sessions.sessionsOf(accountId, now())).at(-1)!;
    offset += (INTERVAL_S + 1) * 1000;
    await forced.app.scheduler.sweepOnce();
    expect((await forced.app.broker.sessions.get(accountId, sessionId))?.reauth).toMatchObject({ mode: 'force' });
    const again = await authorizationRequest(forcedRp, TEST_CLIENT, { scope: 'openid email' });
    const login = await browser.follow(again.url.href, {}, TEST_CLIENT.redirectUri);
    expect(login.body).toContain('Demo SAML IdP — sign in');
    const sso = new URL(browser.history.filter((url) => url.startsWith(forcedIdp.url) && url.includes('/sso?')).at(-1)!);
    const authnRequest = inflateRawSync(Buffer.from(sso.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    expect(authnRequest).toContain('ForceAuthn="true"');
    expect(authnRequest).not.toContain('IsPassive');
    const posted = await browser.submit(login, '/login', { username: 'sam', password: 'sam-demo-password' });
    const end = await browser.submit(posted, `/callback/${CONNECTOR}`, {}, TEST_CLIENT.redirectUri);
    expect(new URL(end.url).searchParams.get('code')).toBeTruthy();
    expect((await forced.app.broker.sessions.get(accountId, sessionId))?.reauth ?? undefined).toBeUndefined();
    expect(forced.audit).toContainEqual(expect.objectContaining({ event: 'session.reverified', outcome: 'success', details: expect.objectContaining({ upstreamAsked: true, reauthentication: 'force' }) }));
  });
});
