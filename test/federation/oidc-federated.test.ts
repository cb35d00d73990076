// Federated login end to end: openid-client RP -> broker -> real upstream OIDC provider -> back, with every rejection the spec lists.
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountIdFor } from '../../src/connectors/claims.js';
import { Browser, forms, type Page } from '../helpers/browser.js';
import { localProvider, startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { closedPortUrl, freeLoopbackPort, startBlackhole, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

const RESTRICTED_CLIENT = { clientId: 'local-only-rp', clientSecret: 'local-only-secret-0123456789abcdefghijkl', redirectUri: 'http://127.0.0.1:1/local-only-cb' };

let up: TestUpstream;
let broker: TestBroker;
let hole: Awaited<ReturnType<typeof startBlackhole>>;
/** Every token the upstream handed out (to prove none reaches the relying party). */
const upstreamSecrets: string[] = [];

beforeAll(async () => {
  const port = await freeLoopbackPort();
  const brokerIssuer = `http://127.0.0.1:${port}`;
  hole = await startBlackhole();
  up = await startTestUpstream({
    brokerIssuer,
    connectorId: 'acme',
    client: { redirect_uris: [`${brokerIssuer}/callback/acme`, `${brokerIssuer}/callback/slow`] },
    configure: (provider) =>
      provider.use(async (ctx, next) => {
        await next();
        const body = ctx.body as Record<string, unknown> | undefined;
        if (ctx.path === '/token' && body && typeof body === 'object') {
          for (const name of ['access_token', 'refresh_token', 'id_token']) if (typeof body[name] === 'string') upstreamSecrets.push(body[name] as string);
        }
      }),
  });
  const acmeConfig = up.connectorConfig({
    claims: { groupPrefix: 'acme:' },
    acrMap: { 'urn:upstream:acr:pwd': 'urn:vestibule:acr:password' },
  });
  broker = await startBroker({
    port,
    providers: [
      await localProvider('local', ['example.com']),
      { id: 'acme', type: 'oidc', name: 'ACME SSO', domains: ['acme.test'], config: acmeConfig },
      {
        id: 'slow',
        type: 'oidc',
        name: 'Slow token endpoint',
        config: {
          ...acmeConfig,
          timeoutMs: 400,
          endpoints: { authorization: `${up.issuer}/auth`, token: `${hole.url}/token`, jwks: `${up.issuer}/jwks`, issParameterSupported: true },
        },
      },
      { id: 'down', type: 'oidc', name: 'Down', config: { ...acmeConfig, issuer: await closedPortUrl() } },
    ],
    config: {
      clients: [
        { clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], postLogoutRedirectUris: [TEST_CLIENT.postLogoutRedirectUri], name: 'Test RP' },
        { clientId: RESTRICTED_CLIENT.clientId, clientSecret: RESTRICTED_CLIENT.clientSecret, redirectUris: [RESTRICTED_CLIENT.redirectUri], allowedProviders: ['local'] },
      ],
    },
  });
});

afterAll(async () => {
  await broker?.close();
  await up?.close();
  await hole?.close();
});

/** Starts at the RP, follows the broker to the upstream login page. */
async function toUpstream(params: Record<string, string>, browser = new Browser()) {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config, TEST_CLIENT, params);
  const page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  return { config, request, browser, page };
}

/** Signs in at the upstream and stops at the broker callback (returned unfollowed). */
async function upstreamLogin(browser: Browser, page: Page, action: 'login' | 'abort' = 'login'): Promise<URL> {
  expect(page.url.startsWith(up.issuer)).toBe(true);
  const atCallback = await browser.submit(page, `/${action}`, action === 'login' ? { username: 'alice', password: 'alice-pw' } : {}, `${broker.issuer}/callback/`);
  return new URL(atCallback.url);
}

/** True when the browser has a broker session (prompt=none succeeds). */
async function hasBrokerSession(browser: Browser): Promise<boolean> {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config, TEST_CLIENT, { prompt: 'none' });
  const page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  const url = new URL(page.url);
  expect(url.href.startsWith(TEST_CLIENT.redirectUri)).toBe(true);
  return !url.searchParams.has('error');
}

describe('full federated flow', () => {
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  let config: oidc.Configuration;
  let callback: URL;

  beforeAll(async () => {
    const start = await toUpstream({ idp_hint: 'acme' });
    config = start.config;
    callback = await upstreamLogin(start.browser, start.page);
    const finished = await start.browser.follow(callback.href, {}, TEST_CLIENT.redirectUri);
    const rpCallback = await completeLogin(start.browser, finished, TEST_CLIENT.redirectUri);
    tokens = await oidc.authorizationCodeGrant(config, rpCallback, {
      pkceCodeVerifier: start.request.verifier,
      expectedState: start.request.state,
      expectedNonce: start.request.nonce,
      idTokenExpected: true,
    });
  });

  it('the upstream sent the browser back to the per-connector callback with code, state and iss', () => {
    expect(callback.pathname).toBe('/callback/acme');
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.searchParams.get('iss')).toBe(up.issuer);
  });

  it('the broker issues its own ID token with the mapped claims', () => {
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(broker.issuer);
    expect(claims.aud).toBe(TEST_CLIENT.clientId);
    expect(claims.sub).toBe(accountIdFor('acme', 'sub-alice'));
    expect(claims.email).toBe('alice@acme.test');
    expect(claims.groups).toEqual(['acme:admins', 'acme:staff']);
    expect(claims.acr).toBe('urn:vestibule:acr:password');
    expect(claims.amr).toEqual(['pwd']);
  });

  it('no upstream token reaches the relying party', async () => {
    expect(upstreamSecrets.length).toBeGreaterThanOrEqual(3);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    const seen = JSON.stringify({ tokens, idToken: decodeJwt(tokens.id_token!), userinfo });
    for (const secret of upstreamSecrets) expect(seen).not.toContain(secret);
  });

  it('records a login.success audit event for the connector', () => {
    expect(broker.audit.some((e) => e.event === 'login.success' && e.connectorId === 'acme' && e.accountId === accountIdFor('acme', 'sub-alice'))).toBe(true);
  });
});

describe('rejections: an error page, an audit event, no session', () => {
  async function expectRejected(page: Page, code: string, status: number, auditFrom: number, browser: Browser) {
    expect(page.status).toBe(status);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.body).toContain(code);
    const events = broker.audit.slice(auditFrom);
    expect(events).toContainEqual(expect.objectContaining({ event: 'upstream.callback.rejected', outcome: 'failure', reason: code }));
    expect(events.some((e) => e.event === 'login.success')).toBe(false);
    expect(await hasBrokerSession(browser)).toBe(false);
  }

  async function attempt(edit: (callback: URL) => URL = (u) => u, params: Record<string, string> = { idp_hint: 'acme' }, action: 'login' | 'abort' = 'login') {
    const auditFrom = broker.audit.length;
    const { browser, page } = await toUpstream(params);
    const callback = edit(await upstreamLogin(browser, page, action));
    const result = await browser.follow(callback.href, {}, TEST_CLIENT.redirectUri);
    return { browser, result, auditFrom };
  }

  it('state mismatch', async () => {
    const { browser, result, auditFrom } = await attempt((u) => {
      u.searchParams.set('state', 'forged-state-value');
      return u;
    });
    await expectRejected(result, 'transaction_not_found', 400, auditFrom, browser);
  });

  it('a replayed callback (the code used twice)', async () => {
    const { browser, page } = await toUpstream({ idp_hint: 'acme' });
    const callback = await upstreamLogin(browser, page);
    await browser.follow(callback.href, {}, TEST_CLIENT.redirectUri);
    const attacker = new Browser();
    const auditFrom = broker.audit.length;
    const replay = await attacker.follow(callback.href, {}, TEST_CLIENT.redirectUri);
    await expectRejected(replay, 'transaction_not_found', 400, auditFrom, attacker);
  });

  const forged: [string, (claims: Record<string, unknown>) => Promise<string> | string][] = [
    ['nonce mismatch', (claims) => up.signIdToken({ ...claims, nonce: 'not-the-nonce-we-sent' })],
    ['an ID token signed by another key', (claims) => up.signIdToken(claims, { key: 'other' })],
    ['alg none', (claims) => up.unsignedIdToken(claims)],
    ['wrong aud', (claims) => up.signIdToken({ ...claims, aud: 'someone-else' })],
    ['an expired ID token', (claims) => up.signIdToken({ ...claims, iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 })],
  ];
  for (const [name, forge] of forged) {
    it(name, async () => {
      up.tamperIdTokens((claims) => forge(claims as Record<string, unknown>));
      try {
        const { browser, result, auditFrom } = await attempt();
        await expectRejected(result, 'invalid_id_token', 400, auditFrom, browser);
      } finally {
        up.tamperIdTokens(undefined);
      }
    });
  }

  it('an iss parameter mismatch (mix-up)', async () => {
    const { browser, result, auditFrom } = await attempt((u) => {
      u.searchParams.set('iss', 'https://attacker-idp.example');
      return u;
    });
    await expectRejected(result, 'issuer_mismatch', 400, auditFrom, browser);
  });

  it('a callback delivered to another connector (mix-up by path)', async () => {
    const { browser, result, auditFrom } = await attempt((u) => new URL(`/callback/slow${u.search}`, u));
    expect(result.status).toBe(400);
    expect(broker.audit.slice(auditFrom)).toContainEqual(expect.objectContaining({ event: 'upstream.callback.rejected', reason: 'connector_mismatch' }));
    expect(await hasBrokerSession(browser)).toBe(false);
  });

  it('an upstream error response (access_denied)', async () => {
    const { browser, result, auditFrom } = await attempt(undefined, { idp_hint: 'acme' }, 'abort');
    await expectRejected(result, 'upstream_error', 403, auditFrom, browser);
    expect(result.body).toContain('The identity provider refused the sign-in.');
  });

  it('the upstream token endpoint hanging: a timeout error page, not a hang', async () => {
    const { browser, result, auditFrom } = await attempt(undefined, { idp_hint: 'slow' });
    await expectRejected(result, 'upstream_timeout', 503, auditFrom, browser);
    expect(result.body).toContain('Slow token endpoint is not responding');
    expect(result.headers.get('retry-after')).toBe('5');
  });

  it('the upstream down: a friendly error page', async () => {
    const { browser, page } = await toUpstream({ idp_hint: 'down' });
    expect(page.status).toBe(503);
    expect(page.body).toContain('upstream_unavailable');
    expect(page.body).toContain('Down is not responding');
    // The page offers the client's other providers (a sign-in button each), not the one that is down.
    expect(page.body).toContain('Continue with ACME SSO');
    expect(page.body).not.toContain('Continue with Down');
    expect(broker.audit.some((e) => e.event === 'login.failure' && e.reason === 'upstream_unavailable' && e.connectorId === 'down' && e.requestId === page.headers.get('x-request-id'))).toBe(true);
    expect(await hasBrokerSession(browser)).toBe(false);
  });
});

describe('home-realm discovery', () => {
  it('login_hint with an e-mail domain routes to the provider claiming it', async () => {
    const { page } = await toUpstream({ login_hint: 'alice@acme.test' });
    expect(page.url.startsWith(`${up.issuer}/interaction/`)).toBe(true);
    expect(page.body).toContain('value="alice@acme.test"');
  });

  it('idp_hint selects a provider directly', async () => {
    expect((await toUpstream({ idp_hint: 'acme' })).page.url.startsWith(`${up.issuer}/interaction/`)).toBe(true);
    const local = await toUpstream({ idp_hint: 'local' });
    expect(local.page.url.startsWith(broker.issuer)).toBe(true);
    expect(forms(local.page).some((f) => f.fields.connector === 'local' && f.action.endsWith('/login'))).toBe(true);
  });

  it('another domain routes elsewhere', async () => {
    const { page } = await toUpstream({ login_hint: 'alice@example.com' });
    expect(page.url.startsWith(broker.issuer)).toBe(true);
    expect(forms(page).some((f) => f.fields.connector === 'local')).toBe(true);
  });

  it('the choose page routes a typed e-mail by domain', async () => {
    const { browser, page } = await toUpstream({});
    expect(forms(page).some((f) => f.action.endsWith('/choose'))).toBe(true);
    const next = await browser.submit(page, '/choose', { email: 'carol@acme.test' }, TEST_CLIENT.redirectUri);
    expect(next.url.startsWith(`${up.issuer}/interaction/`)).toBe(true);
    // And completes the flow from there.
    const callback = await upstreamLogin(browser, next);
    const done = await completeLogin(browser, await browser.follow(callback.href, {}, TEST_CLIENT.redirectUri), TEST_CLIENT.redirectUri);
    expect(done.searchParams.get('code')).toBeTruthy();
  });

  it('a client restricted to other providers cannot be routed to this one', async () => {
    const config = await discoverRp(broker.issuer, RESTRICTED_CLIENT);
    const request = await authorizationRequest(config, RESTRICTED_CLIENT, { idp_hint: 'acme' });
    const page = await new Browser().follow(request.url.href, {}, RESTRICTED_CLIENT.redirectUri);
    expect(page.status).toBe(400);
    expect(page.body).toContain('unknown_provider');
    const byDomain = await new Browser().follow((await authorizationRequest(config, RESTRICTED_CLIENT, { login_hint: 'alice@acme.test' })).url.href, {}, RESTRICTED_CLIENT.redirectUri);
    expect(byDomain.url.startsWith(up.issuer)).toBe(false);
  });
});

describe('logout', () => {
  it('chains the broker logout through the upstream end_session_endpoint and back to the client', async () => {
    const before = new Set(await broker.app.broker.sessions.sessionsOf(accountIdFor('acme', 'sub-alice')));
    const start = await toUpstream({ idp_hint: 'acme' });
    const callback = await upstreamLogin(start.browser, start.page);
    const rpCallback = await completeLogin(start.browser, await start.browser.follow(callback.href, {}, TEST_CLIENT.redirectUri), TEST_CLIENT.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(start.config, rpCallback, {
      pkceCodeVerifier: start.request.verifier,
      expectedState: start.request.state,
      expectedNonce: start.request.nonce,
    });
    const sub = tokens.claims()!.sub;
    const created = (await broker.app.broker.sessions.sessionsOf(sub)).filter((id) => !before.has(id));
    expect(created).toHaveLength(1);
    const sessionId = created[0];
    expect(await broker.app.broker.vault.get(sessionId!)).toBeDefined();

    const endSession = oidc.buildEndSessionUrl(start.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: TEST_CLIENT.postLogoutRedirectUri, state: 'bye-fed' });
    const confirm = await start.browser.follow(endSession.href);
    const atUpstream = await start.browser.submit(confirm, '/session/end/confirm', { logout: 'yes' }, TEST_CLIENT.postLogoutRedirectUri);
    // The broker sent the browser to the upstream's end_session_endpoint, which asks for its own confirmation.
    expect(atUpstream.url.startsWith(`${up.issuer}/session/end`)).toBe(true);
    const upstreamRequest = start.browser.history.find((u) => u.startsWith(`${up.issuer}/session/end?`));
    const params = new URL(upstreamRequest!).searchParams;
    expect(params.get('post_logout_redirect_uri')).toBe(up.postLogoutRedirectUri);
    expect(params.get('client_id')).toBe(up.clientId);
    expect(upstreamSecrets).toContain(params.get('id_token_hint'));
    const back = await start.browser.submit(atUpstream, '/session/end/confirm', { logout: 'yes' }, TEST_CLIENT.postLogoutRedirectUri);
    const bye = new URL(back.url);
    expect(bye.href.startsWith(TEST_CLIENT.postLogoutRedirectUri)).toBe(true);
    expect(bye.searchParams.get('state')).toBe('bye-fed');
    // Broker session, federated session and vault entry are gone; the upstream asks for the password again.
    expect(await broker.app.broker.vault.get(sessionId!)).toBeUndefined();
    expect(await broker.app.broker.sessions.sessionsOf(sub)).not.toContain(sessionId);
    expect(await hasBrokerSession(start.browser)).toBe(false);
    const again = await toUpstream({ idp_hint: 'acme' }, start.browser);
    expect(again.page.url.startsWith(`${up.issuer}/interaction/`)).toBe(true);
    expect(again.page.body).toContain('name="password"');
  });
});
