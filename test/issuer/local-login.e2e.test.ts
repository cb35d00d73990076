// End to end, as the spec reads: an openid-client RP signs in through the local connector against a real HTTP broker.
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, forms } from '../helpers/browser.js';
import { PUBLIC_CLIENT, startBroker, TEST_CLIENT, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp, loginAndExchange } from '../helpers/rp.js';
import { endSessionsForUpstream } from '../../src/federation/upstream-logout.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(async () => broker?.close());

describe('discovery', () => {
  it('publishes the issuer metadata with code flow, PKCE S256, ES256 and RS256, and RFC 9207 iss', async () => {
    const config = await discoverRp(broker.issuer);
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(broker.issuer);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.code_challenge_methods_supported).toContain('S256');
    expect(meta.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'RS256']));
    expect(meta.authorization_response_iss_parameter_supported).toBe(true);
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'groups', 'offline_access']));
    expect(meta.introspection_endpoint).toBeDefined();
    expect(meta.revocation_endpoint).toBeDefined();
    expect(meta.end_session_endpoint).toBeDefined();
  });

  it('answers discovery and JWKS identically from the cache, with CORS for any origin', async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      const first = await fetch(`${broker.issuer}${path}`, { headers: { origin: 'https://app.example' } });
      const second = await fetch(`${broker.issuer}${path}`, { headers: { origin: 'https://other.example' } });
      expect(second.status).toBe(200);
      expect(await second.text()).toBe(await first.text());
      expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'));
      expect(first.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(second.headers.get('access-control-allow-origin')).toBe('https://other.example');
      expect(second.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
    }
  });

  it('serves a JWKS with public keys only', async () => {
    const jwks = (await (await fetch(`${broker.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.map((k) => k.kty).sort()).toEqual(['EC', 'RSA']);
    for (const key of jwks.keys) expect(key.d).toBeUndefined();
  });
});

describe('authorization code flow with PKCE through the local login form', () => {
  let result: Awaited<ReturnType<typeof loginAndExchange>>;
  beforeAll(async () => {
    result = await loginAndExchange(broker.issuer, { params: { scope: 'openid profile email groups offline_access', prompt: 'consent' } });
  });

  it('returns iss in the authorization response (RFC 9207)', () => {
    expect(result.callback.searchParams.get('iss')).toBe(broker.issuer);
  });

  it('issues an ID token signed with the JWKS key, with iss, aud, nonce, acr, amr, auth_time and the mapped claims', async () => {
    const idToken = result.tokens.id_token!;
    expect(decodeProtectedHeader(idToken).alg).toBe('ES256');
    const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(`${broker.issuer}/jwks`)), { issuer: broker.issuer, audience: TEST_CLIENT.clientId });
    expect(payload.nonce).toBe(result.request.nonce);
    expect(payload.acr).toBe('urn:vestibule:acr:password');
    expect(payload.amr).toEqual(['pwd']);
    expect(typeof payload.auth_time).toBe('number');
    expect(payload.email).toBe(TEST_USER.email);
    expect(payload.groups).toEqual(TEST_USER.groups);
    expect(payload.sub).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(payload.sub).not.toContain('alice');
  });

  it('serves userinfo for the access token', async () => {
    const sub = result.tokens.claims()!.sub;
    const info = await oidc.fetchUserInfo(result.config, result.tokens.access_token, sub);
    expect(info).toMatchObject({ sub, email: TEST_USER.email, name: TEST_USER.name, groups: TEST_USER.groups });
  });

  it('rotates the refresh token; replaying the old one is refused and revokes the whole grant', async () => {
    const { config, tokens } = await loginAndExchange(broker.issuer, { params: { scope: 'openid offline_access', prompt: 'consent' } });
    const first = tokens.refresh_token!;
    expect(first).toBeTruthy();
    const refreshed = await oidc.refreshTokenGrant(config, first);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(first);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.claims()?.sub).toBe(tokens.claims()?.sub);
    await expect(oidc.refreshTokenGrant(config, first)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Reuse detection: the rotated token of the same family no longer works either.
    await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('revokes the access token, after which introspection reports it inactive', async () => {
    const token = result.tokens.access_token;
    expect((await oidc.tokenIntrospection(result.config, token)).active).toBe(true);
    await oidc.tokenRevocation(result.config, token);
    expect((await oidc.tokenIntrospection(result.config, token)).active).toBe(false);
    expect(broker.audit.some((e) => e.event === 'token.revoked' && e.outcome === 'success')).toBe(true);
  });

  it('logs out through RP-initiated logout back to the registered post_logout_redirect_uri', async () => {
    const sub = result.tokens.claims()!.sub;
    const sessionsBefore = await broker.app.broker.sessions.sessionsOf(sub);
    const url = oidc.buildEndSessionUrl(result.config, { id_token_hint: result.tokens.id_token!, post_logout_redirect_uri: TEST_CLIENT.postLogoutRedirectUri, state: 'bye-1' });
    const confirm = await result.browser.follow(url.href);
    expect(confirm.status).toBe(200);
    const done = await result.browser.submit(confirm, '/session/end/confirm', { logout: 'yes' }, TEST_CLIENT.postLogoutRedirectUri);
    const back = new URL(done.url);
    expect(back.href.startsWith(TEST_CLIENT.postLogoutRedirectUri)).toBe(true);
    expect(back.searchParams.get('state')).toBe('bye-1');
    expect(broker.audit.some((e) => e.event === 'logout' && e.outcome === 'success')).toBe(true);
    // The federated session record ends with the broker session.
    expect(broker.audit.some((e) => e.event === 'session.ended' && e.accountId === sub)).toBe(true);
    expect((await broker.app.broker.sessions.sessionsOf(sub)).length).toBe(sessionsBefore.length - 1);
    // The broker session is gone: a new authorization asks for the password again.
    const request = await authorizationRequest(result.config);
    const page = await result.browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    expect(page.body).toContain('name="password"');
  });

  it('audits login success, consent and token issuance without secrets', () => {
    const events = broker.audit.map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['login.success', 'consent.granted', 'token.issued', 'token.refreshed']));
    const text = JSON.stringify(broker.audit);
    expect(text).not.toContain(TEST_USER.password);
    expect(text).not.toContain(result.tokens.access_token);
    for (const event of broker.audit) {
      expect(event.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(['info', 'warn', 'error']).toContain(event.level);
    }
  });
});

describe('public clients', () => {
  it('require PKCE', async () => {
    const config = await discoverRp(broker.issuer, PUBLIC_CLIENT);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: PUBLIC_CLIENT.redirectUri, scope: 'openid', state: 's', nonce: 'n' });
    const page = await new Browser().follow(url.href, {}, PUBLIC_CLIENT.redirectUri);
    const back = new URL(page.url);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('sign in without a consent page when marked first-party (skipConsent)', async () => {
    const { tokens } = await loginAndExchange(broker.issuer, { client: PUBLIC_CLIENT });
    expect(tokens.claims()?.aud).toBe(PUBLIC_CLIENT.clientId);
  });
});

describe('RS256 for relying parties that need it', () => {
  it('signs ID tokens with RS256 when the client is registered for it', async () => {
    const rs = await startBroker({
      config: { clients: [{ clientId: 'rs-rp', clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], idTokenSignedResponseAlg: 'RS256', skipConsent: true }] },
    });
    try {
      const { tokens } = await loginAndExchange(rs.issuer, { client: { clientId: 'rs-rp', clientSecret: TEST_CLIENT.clientSecret, redirectUri: TEST_CLIENT.redirectUri } });
      expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');
      expect(decodeJwt(tokens.id_token!).iss).toBe(rs.issuer);
    } finally {
      await rs.close();
    }
  });
});

describe('response_mode=form_post', () => {
  it('answers with an auto-submitting form whose inline script the CSP allows by hash', async () => {
    const config = await discoverRp(broker.issuer);
    const request = await authorizationRequest(config, TEST_CLIENT, { response_mode: 'form_post' });
    const browser = new Browser();
    const first = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    const login = await browser.submit(first, '/login', { username: TEST_USER.username, password: TEST_USER.password });
    const post = login.body.includes('/consent') ? await browser.submit(login, '/consent', { decision: 'allow' }) : login;
    expect(post.status).toBe(200);
    const form = forms(post).find((f) => f.action === TEST_CLIENT.redirectUri)!;
    expect(form.fields.code).toBeTruthy();
    expect(form.fields.state).toBe(request.state);
    expect(form.fields.iss).toBe(broker.issuer);
    const script = /<script>([\s\S]*?)<\/script>/.exec(post.body)![1]!;
    expect(post.headers.get('content-security-policy')).toContain(`'sha256-${createHash('sha256').update(script).digest('base64')}'`);
  });
});

describe('consent denied', () => {
  it('returns access_denied to the client', async () => {
    const config = await discoverRp(broker.issuer);
    const request = await authorizationRequest(config);
    const browser = new Browser();
    const first = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    const back = await completeLogin(browser, first, TEST_CLIENT.redirectUri, { consent: false });
    expect(back.searchParams.get('error')).toBe('access_denied');
  });
});

describe('no live federated session, no tokens', () => {
  it('refuses the refresh token and userinfo once the upstream ended the session', async () => {
    const solo = await startBroker();
    try {
      const { config, tokens } = await loginAndExchange(solo.issuer, { params: { scope: 'openid email offline_access', prompt: 'consent' } });
      expect(tokens.refresh_token).toBeTruthy();
      const sub = tokens.claims()!.sub;
      expect((await oidc.fetchUserInfo(config, tokens.access_token, sub)).sub).toBe(sub);
      // What a SAML IdP-initiated LogoutRequest does for its NameID.
      expect(await endSessionsForUpstream(solo.app.broker)({ connectorId: 'local', nameId: TEST_USER.username })).toBe(1);
      expect(solo.audit.some((e) => e.event === 'session.ended' && e.reason === 'upstream_logout' && e.accountId === sub)).toBe(true);
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(oidc.fetchUserInfo(config, tokens.access_token, sub)).rejects.toThrow();
    } finally {
      await solo.close();
    }
  });
});
