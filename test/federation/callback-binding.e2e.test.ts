// A callback completes a login only in the browser that started it (issue 10, defects 1 and 2), for OIDC and SAML upstreams, on memory and Redis.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSamlServiceProvider } from '../../src/connectors/saml.js';
import { SESSION_COOKIE } from '../../src/federation/session-cookie.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { authnRequestFromRedirect, requestIdOf } from '../connectors/saml-setup.js';
import { Browser } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';
import { SP_CERT, SP_KEY, TestIdp, b64 } from '../helpers/upstream-saml.js';

describe.each(STORE_BACKENDS)('callbacks bound to the browser, %s store', (_name, openStore) => {
  let broker: TestBroker;
  let up: TestUpstream;
  let idp: TestIdp;
  let store: KeyValueStore;
  let rp: oidc.Configuration;
  let nameIds = 0;

  beforeAll(async () => {
    store = await openStore();
    const port = await freeLoopbackPort();
    up = await startTestUpstream({ brokerIssuer: `http://127.0.0.1:${port}`, connectorId: 'acme' });
    broker = await startBroker({
      port,
      store,
      providers: [
        { id: 'acme', type: 'oidc', name: 'ACME', config: up.connectorConfig() },
        { id: 'corp-saml', type: 'saml', name: 'Corp SAML', config: { idp: { metadataXml: TestIdp.metadata() }, sp: { signingKey: SP_KEY, signingCert: SP_CERT }, schemaValidation: 'off' } },
      ],
    });
    const connector = broker.app.broker.connectors.get('corp-saml')!;
    if (!isSamlServiceProvider(connector)) throw new Error('not SAML');
    idp = new TestIdp(connector.spMetadata());
    rp = await discoverRp(broker.issuer);
  });

  afterAll(async () => {
    await broker?.close();
    await up?.close();
    await closeTestStore(store);
  });

  const sessionsCreated = () => broker.audit.filter((e) => e.event === 'login.success').length;
  const refusals = () => broker.audit.filter((e) => e.event === 'upstream.callback.rejected' && e.reason === 'browser_mismatch');

  /** The attacker's browser starts a login and stops at the upstream (keeping its cookies and the upstream URL). */
  async function attackerStarts(idpHint: string) {
    const request = await authorizationRequest(rp, TEST_CLIENT, { idp_hint: idpHint });
    const attacker = new Browser();
    const atUpstream = await attacker.follow(request.url.href, {}, idpHint === 'acme' ? up.issuer : idp.ssoUrl);
    const uid = attacker.history.map((h) => /\/interaction\/([^/?#]+)$/.exec(new URL(h).pathname)?.[1]).find(Boolean)!;
    return { attacker, upstreamUrl: atUpstream.url, uid, request };
  }

  /** A genuine SAML Response for the login behind `upstreamUrl` (its AuthnRequest and RelayState). */
  async function samlAnswer(upstreamUrl: string) {
    const url = new URL(upstreamUrl);
    const requestId = requestIdOf(authnRequestFromRedirect(upstreamUrl));
    const acs = `${broker.issuer}/callback/corp-saml`;
    const xml = await idp.responseXml({ inResponseTo: requestId, nameId: `victim-${++nameIds}`, sign: 'assertion' }, acs, `${broker.issuer}/saml/corp-saml/metadata`);
    return { acs, form: { SAMLResponse: b64(xml), RelayState: url.searchParams.get('RelayState')! } };
  }

  it('OIDC: the victim completing the attacker\'s login upstream gets no session, and the attacker no code (sign-in takeover)', async () => {
    const { attacker, upstreamUrl, uid } = await attackerStarts('acme');
    const before = sessionsCreated();
    // The victim's browser signs in at the upstream for the attacker's transaction and lands on the broker callback.
    const callback = await up.browserLogin(upstreamUrl);
    const victim = new Browser();
    const answer = await victim.request(callback.href);
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('callback_wrong_browser');
    expect(victim.cookie(broker.issuer, SESSION_COOKIE)).toBeUndefined();
    expect(sessionsCreated()).toBe(before);
    expect(refusals().at(-1)).toMatchObject({ connectorId: 'acme', clientId: TEST_CLIENT.clientId });
    // The attacker's browser has nothing to collect: no code, no ID token.
    const finish = await attacker.request(`${broker.issuer}/interaction/${uid}/finish`);
    expect(finish.status).toBe(400);
    expect(finish.headers.get('location')).toBeNull();
  });

  it('SAML: a Response for the attacker\'s login posted from the victim\'s browser is verified, then refused at the completion GET', async () => {
    const { attacker, upstreamUrl, uid } = await attackerStarts('corp-saml');
    const { acs, form } = await samlAnswer(upstreamUrl);
    const before = sessionsCreated();
    const victim = new Browser();
    const posted = await victim.request(acs, { form });
    expect(posted.status).toBe(303);
    const completion = await victim.request(new URL(posted.headers.get('location')!, broker.issuer).href);
    expect(completion.status).toBe(400);
    expect(completion.body).toContain('callback_wrong_browser');
    expect(victim.cookie(broker.issuer, SESSION_COOKIE)).toBeUndefined();
    expect(sessionsCreated()).toBe(before);
    expect(refusals().at(-1)).toMatchObject({ connectorId: 'corp-saml' });
    // The verified login was one-time: the attacker cannot replay the completion URL from their browser either.
    const stolen = await attacker.request(new URL(posted.headers.get('location')!, broker.issuer).href);
    expect(stolen.status).toBe(400);
    expect((await attacker.request(`${broker.issuer}/interaction/${uid}/finish`)).status).toBe(400);
  });

  it('login CSRF: the attacker\'s own valid answer in the victim\'s browser neither signs the victim in nor replaces the victim\'s session', async () => {
    // The victim is signed in (through SAML) in their own browser.
    const victimLogin = await authorizationRequest(rp, TEST_CLIENT, { idp_hint: 'corp-saml' });
    const victim = new Browser();
    const atIdp = await victim.follow(victimLogin.url.href, {}, idp.ssoUrl);
    const genuine = await samlAnswer(atIdp.url);
    const posted = await victim.request(genuine.acs, { form: genuine.form });
    const done = await victim.follow(new URL(posted.headers.get('location')!, broker.issuer).href, {}, TEST_CLIENT.redirectUri);
    const back = await completeLogin(victim, done, TEST_CLIENT.redirectUri);
    expect(back.searchParams.get('code')).toBeTruthy();
    const victimCookie = victim.cookie(broker.issuer, SESSION_COOKIE);
    expect(victimCookie).toBeTruthy();
    // The attacker's own login (SAML and OIDC), answered for the attacker, is pushed into the victim's browser.
    const before = sessionsCreated();
    const samlAttack = await samlAnswer((await attackerStarts('corp-saml')).upstreamUrl);
    const pushed = await victim.request(samlAttack.acs, { form: samlAttack.form });
    expect((await victim.request(new URL(pushed.headers.get('location')!, broker.issuer).href)).status).toBe(400);
    const oidcAttack = await up.browserLogin((await attackerStarts('acme')).upstreamUrl);
    expect((await victim.request(oidcAttack.href)).status).toBe(400);
    expect(sessionsCreated()).toBe(before);
    // The victim's session and cookie are untouched: their logout still ends their own session.
    expect(victim.cookie(broker.issuer, SESSION_COOKIE)).toBe(victimCookie);
    const [accountId, sessionId] = victimCookie!.split('.');
    expect(await broker.app.broker.sessions.get(accountId!, sessionId!)).toBeDefined();
  });

  it('the same callback, and the same SAML completion, fired twice at once by the right browser complete exactly once', async () => {
    const oidcStart = await attackerStarts('acme');
    const callback = await up.browserLogin(oidcStart.upstreamUrl);
    const before = sessionsCreated();
    const answers = await Promise.all([oidcStart.attacker.request(callback.href), oidcStart.attacker.request(callback.href)]);
    expect(answers.map((a) => a.status).sort()).toEqual([303, 400]);
    const samlStart = await attackerStarts('corp-saml');
    const { acs, form } = await samlAnswer(samlStart.upstreamUrl);
    const posted = await samlStart.attacker.request(acs, { form });
    const completion = new URL(posted.headers.get('location')!, broker.issuer).href;
    const completions = await Promise.all([samlStart.attacker.request(completion), samlStart.attacker.request(completion)]);
    expect(completions.map((a) => a.status).sort()).toEqual([303, 400]);
    expect(sessionsCreated()).toBe(before + 2);
  });

  it('the browser that started the login completes it, with logins in two tabs at once', async () => {
    const browser = new Browser();
    const first = await authorizationRequest(rp, TEST_CLIENT, { idp_hint: 'acme' });
    const second = await authorizationRequest(rp, TEST_CLIENT, { idp_hint: 'acme' });
    const [a, b] = [await browser.follow(first.url.href, {}, up.issuer), await browser.follow(second.url.href, {}, up.issuer)];
    // Both tabs finish, in reverse order, in the same browser.
    for (const [page, request] of [[b, second], [a, first]] as const) {
      const callback = await up.browserLogin(page.url);
      const landed = await browser.follow(callback.href, {}, TEST_CLIENT.redirectUri);
      const back = await completeLogin(browser, landed, TEST_CLIENT.redirectUri);
      const tokens = await oidc.authorizationCodeGrant(rp, back, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
      expect(tokens.claims()?.sub).toBeTruthy();
    }
  });
});
