// The OIDC connector against a real upstream oidc-provider: code flow, refresh, logout and every rejection the spec demands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { ConnectorError, type Identity } from '../../src/connectors/connector.js';
import { oidcConnectorFactory, type OidcConnector } from '../../src/connectors/oidc.js';
import { closedPortUrl, startBlackhole, startTestUpstream, testConnectorContext, type TestUpstream } from '../helpers/upstream-oidc.js';

let up: TestUpstream;

beforeAll(async () => {
  up = await startTestUpstream({ loginAcr: 'urn:upstream:acr:mfa', loginAmr: ['pwd', 'otp'] });
});
afterAll(async () => {
  await up.close();
});

async function connector(overrides: Record<string, unknown> = {}, upstream: TestUpstream = up, contextOverrides = {}): Promise<OidcConnector> {
  const config = oidcConnectorFactory.configSchema.parse(upstream.connectorConfig(overrides));
  return (await oidcConnectorFactory.create({ id: 'upstream', name: 'Upstream', domains: ['acme.test'] }, config, testConnectorContext(contextOverrides))) as OidcConnector;
}

let stateCounter = 0;
/** Runs startLogin and the upstream login; returns what the callback would receive plus the transaction. */
async function login(c: OidcConnector, upstream: TestUpstream = up, as?: Parameters<TestUpstream['browserLogin']>[1]) {
  const state = `state-${++stateCounter}`;
  const start = await c.startLogin({ interactionUid: 'uid', callbackUrl: upstream.callbackUrl, state });
  const callback = await upstream.browserLogin(start.redirectUrl as string, as);
  const input = { method: 'GET' as const, params: Object.fromEntries(callback.searchParams), url: callback };
  return { start, input, tx: start.transactionData };
}

async function rejection(promise: Promise<unknown>): Promise<ConnectorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}

describe('authorization code flow', () => {
  it('sends PKCE S256, state, nonce, scopes and the per-connector callback URL', async () => {
    const c = await connector();
    const start = await c.startLogin({ interactionUid: 'uid', callbackUrl: up.callbackUrl, state: 'the-state', loginHint: 'alice' });
    const url = new URL(start.redirectUrl as string);
    expect(url.origin).toBe(up.issuer);
    const p = url.searchParams;
    expect(p.get('response_type')).toBe('code');
    expect(p.get('client_id')).toBe(up.clientId);
    expect(p.get('redirect_uri')).toBe(up.callbackUrl);
    expect(p.get('state')).toBe('the-state');
    expect(p.get('code_challenge_method')).toBe('S256');
    expect(p.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(p.get('nonce')).toBe(start.transactionData.nonce);
    expect(p.get('scope')).toBe('openid email profile groups offline_access');
    expect(p.get('login_hint')).toBe('alice');
    expect(p.has('acr_values')).toBe(false);
    expect(p.has('max_age')).toBe(false);
    expect(p.has('prompt')).toBe(false);
    expect(start.transactionData).toMatchObject({ state: 'the-state', redirectUri: up.callbackUrl });
    expect(String(start.transactionData.codeVerifier)).toMatch(/^[\w-]{43,128}$/);
  });

  it('returns the mapped identity, upstream acr/amr and the upstream tokens', async () => {
    const c = await connector({ claims: { groupPrefix: 'acme:' }, acrMap: { 'urn:upstream:acr:mfa': 'urn:vestibule:acr:mfa' } });
    const { input, tx } = await login(c);
    const identity = await c.handleCallback(input, tx);
    expect(identity).toMatchObject({
      connectorId: 'upstream',
      subject: 'sub-alice',
      email: 'alice@acme.test',
      emailVerified: true,
      name: 'Alice Example',
      groups: ['acme:admins', 'acme:staff'],
      acr: 'urn:vestibule:acr:mfa',
      amr: ['pwd', 'otp'],
    });
    expect(identity.authTime).toBeGreaterThan(0);
    expect(identity.rawClaims.nonce).toBeUndefined();
    const tokens = identity.upstreamTokens!;
    expect(tokens.accessToken).toBeTruthy();
    expect(tokens.refreshToken).toBeTruthy();
    expect(decodeJwt(tokens.idToken!).sub).toBe('sub-alice');
    expect(tokens.expiresAt).toBeGreaterThan(Date.now());
  });

  it('forwards acr_values (through acrMap), max_age and prompt=login when allowed, and checks auth_time', async () => {
    const c = await connector({
      passAcrValues: true,
      passMaxAge: true,
      passPromptLogin: true,
      acrMap: { 'urn:upstream:acr:mfa': 'urn:vestibule:acr:mfa' },
    });
    const state = 'step-up';
    const start = await c.startLogin({
      interactionUid: 'uid',
      callbackUrl: up.callbackUrl,
      state,
      acrValues: ['urn:vestibule:acr:mfa', 'urn:other'],
      maxAge: 300,
      forceLogin: true,
    });
    const p = new URL(start.redirectUrl as string).searchParams;
    expect(p.get('acr_values')).toBe('urn:upstream:acr:mfa urn:other');
    expect(p.get('max_age')).toBe('300');
    expect(p.get('prompt')).toBe('login');
    const callback = await up.browserLogin(start.redirectUrl as string);
    const identity = await c.handleCallback({ method: 'GET', params: Object.fromEntries(callback.searchParams), url: callback }, start.transactionData);
    expect(identity.acr).toBe('urn:vestibule:acr:mfa');
  });

  it('merges userinfo claims when the upstream keeps them out of the ID token', async () => {
    const lean = await startTestUpstream({ claimsInIdToken: false });
    try {
      const without = await connector({}, lean);
      const a = await login(without, lean);
      const bare = await without.handleCallback(a.input, a.tx);
      expect(bare.email).toBeUndefined();

      const withUserinfo = await connector({ userinfo: true }, lean);
      const b = await login(withUserinfo, lean);
      const merged = await withUserinfo.handleCallback(b.input, b.tx);
      expect(merged.subject).toBe('sub-alice');
      expect(merged.email).toBe('alice@acme.test');
      expect(merged.groups).toEqual(['admins', 'staff']);
    } finally {
      await lean.close();
    }
  });

  it('authenticates with client_secret_post or client_secret_basic as configured', async () => {
    const seen: string[] = [];
    const post = await startTestUpstream({
      client: { token_endpoint_auth_method: 'client_secret_post' },
      configure: (provider) =>
        provider.use(async (ctx, next) => {
          if (ctx.path === '/token') seen.push(ctx.get('authorization') ? 'basic' : 'post');
          await next();
        }),
    });
    try {
      const c = await connector({ tokenEndpointAuthMethod: 'client_secret_post' }, post);
      const { input, tx } = await login(c, post);
      expect((await c.handleCallback(input, tx)).subject).toBe('sub-alice');
      const basic = await connector({ tokenEndpointAuthMethod: 'client_secret_basic' }, post);
      const second = await login(basic, post);
      await basic.handleCallback(second.input, second.tx);
      expect(seen).toEqual(['post', 'basic']);
    } finally {
      await post.close();
    }
  });

  it('authenticates with private_key_jwt', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = { ...(await exportJWK(publicKey)), kid: 'broker-key', alg: 'ES256', use: 'sig' };
    const privateJwk = { ...(await exportJWK(privateKey)), kid: 'broker-key', alg: 'ES256' };
    const pkj = await startTestUpstream({
      client: { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [publicJwk] } },
    });
    try {
      const c = await connector({ tokenEndpointAuthMethod: 'private_key_jwt', clientSecret: undefined, privateKeyJwk: privateJwk }, pkj);
      const { input, tx } = await login(c, pkj);
      expect((await c.handleCallback(input, tx)).subject).toBe('sub-alice');
    } finally {
      await pkj.close();
    }
  });

  it('works with explicit endpoints instead of discovery', async () => {
    const c = await connector({
      endpoints: {
        authorization: `${up.issuer}/auth`,
        token: `${up.issuer}/token`,
        jwks: `${up.issuer}/jwks`,
        userinfo: `${up.issuer}/me`,
        endSession: `${up.issuer}/session/end`,
        issParameterSupported: true,
      },
    });
    const { input, tx } = await login(c);
    expect((await c.handleCallback(input, tx)).email).toBe('alice@acme.test');
  });

  it('refuses identities outside the allowed e-mail domains', async () => {
    const c = await connector({ claims: { allowedEmailDomains: ['acme.test'] } });
    const ok = await login(c);
    expect((await c.handleCallback(ok.input, ok.tx)).email).toBe('alice@acme.test');
    const bob = await login(c, up, { username: 'bob', password: 'bob-pw' });
    const err = await rejection(c.handleCallback(bob.input, bob.tx));
    expect(err.code).toBe('email_domain_not_allowed');
  });
});

describe('rejections', () => {
  it('state mismatch', async () => {
    const c = await connector();
    const { input, tx } = await login(c);
    const err = await rejection(c.handleCallback({ ...input, params: { ...input.params, state: 'someone-elses-state' } }, tx));
    expect(err.code).toBe('state_mismatch');
    const missing = { ...input.params };
    delete missing.state;
    expect((await rejection(c.handleCallback({ ...input, params: missing }, tx))).code).toBe('state_mismatch');
  });

  it('a replayed callback (the code used twice)', async () => {
    const c = await connector();
    const { input, tx } = await login(c);
    await c.handleCallback(input, tx);
    const err = await rejection(c.handleCallback(input, tx));
    expect(err.code).toBe('token_exchange_failed');
    expect(err.detail).toContain('invalid_grant');
  });

  it('nonce mismatch', async () => {
    const c = await connector();
    const { input, tx } = await login(c);
    const err = await rejection(c.handleCallback(input, { ...tx, nonce: 'another-nonce-value' }));
    expect(err.code).toBe('invalid_id_token');
    expect(err.detail).toContain('nonce');
  });

  it('the broker\'s client credentials refused at the token endpoint (Basic challenge, or an error body for client_secret_post)', async () => {
    const clientSecret = 'not-the-secret-0123456789abcdef';
    for (const overrides of [{ clientSecret }, { clientSecret, tokenEndpointAuthMethod: 'client_secret_post' }]) {
      const c = await connector(overrides);
      const { input, tx } = await login(c);
      const err = await rejection(c.handleCallback(input, tx));
      expect(err.code, JSON.stringify(overrides)).toBe('upstream_client_rejected');
      expect(err.status).toBe(502);
      expect(err.detail).toMatch(/^callback: upstream token endpoint answered 401 error=invalid_client/);
      expect(err.detail).not.toContain(up.clientSecret);
    }
  });

  it('PKCE verifier mismatch', async () => {
    const c = await connector();
    const { input, tx } = await login(c);
    const err = await rejection(c.handleCallback(input, { ...tx, codeVerifier: 'x'.repeat(43) }));
    expect(err.code).toBe('token_exchange_failed');
  });

  describe('forged ID tokens', () => {
    const cases: [string, (claims: Record<string, unknown>) => Promise<string> | string, RegExp][] = [
      ['signed by another key', (claims) => up.signIdToken(claims, { key: 'other' }), /signature/i],
      ['alg none', (claims) => up.unsignedIdToken(claims), /alg/i],
      ['HS256 with the client secret', async (claims) => {
        const { SignJWT } = await import('jose');
        return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(up.clientSecret));
      }, /alg/i],
      ['wrong aud', (claims) => up.signIdToken({ ...claims, aud: 'another-client' }), /aud/],
      ['aud list without azp for us', (claims) => up.signIdToken({ ...claims, aud: [up.clientId, 'another-client'], azp: 'another-client' }), /azp/],
      ['expired', (claims) => up.signIdToken({ ...claims, iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }), /exp|timestamp/i],
      ['wrong iss', (claims) => up.signIdToken({ ...claims, iss: 'https://evil.example' }), /iss/],
    ];
    for (const [name, forge, detail] of cases) {
      it(name, async () => {
        const c = await connector();
        const { input, tx } = await login(c);
        up.tamperIdTokens((claims) => forge(claims as Record<string, unknown>));
        try {
          const err = await rejection(c.handleCallback(input, tx));
          expect(err.code).toBe('invalid_id_token');
          expect(err.detail).toMatch(detail);
        } finally {
          up.tamperIdTokens(undefined);
        }
      });
    }

    it('a correctly re-signed token still passes (the forgery tool is honest)', async () => {
      const c = await connector();
      const { input, tx } = await login(c);
      up.tamperIdTokens((claims) => up.signIdToken(claims));
      try {
        expect((await c.handleCallback(input, tx)).subject).toBe('sub-alice');
      } finally {
        up.tamperIdTokens(undefined);
      }
    });

    it('an algorithm outside the configured allow-list', async () => {
      const c = await connector({ idTokenSigningAlgs: ['ES256'] });
      const { input, tx } = await login(c);
      const err = await rejection(c.handleCallback(input, tx));
      expect(err.code).toBe('invalid_id_token');
      expect(err.detail).toMatch(/alg/);
    });
  });

  it('iss parameter mismatch (mix-up) and a missing iss the upstream advertises', async () => {
    const c = await connector();
    const { input, tx } = await login(c);
    expect(input.params.iss).toBe(up.issuer);
    const mixed = await rejection(c.handleCallback({ ...input, params: { ...input.params, iss: 'https://other-idp.example' } }, tx));
    expect(mixed.code).toBe('issuer_mismatch');
    const params = { ...input.params };
    delete params.iss;
    expect((await rejection(c.handleCallback({ ...input, params }, tx))).code).toBe('issuer_mismatch');
  });

  it('an upstream error response (access_denied)', async () => {
    const c = await connector();
    const { input, tx } = await login(c, up, 'abort');
    expect(input.params.error).toBe('access_denied');
    const err = await rejection(c.handleCallback(input, tx));
    expect(err.code).toBe('upstream_error');
    expect(err.status).toBe(403);
    expect(err.detail).toContain('access_denied');
    // RFC 9207 section 2: an error response from an upstream that advertises iss carries it too; without it, a 400
    // issuer_mismatch (found by the callback property test: it was a 502 invalid_upstream_response).
    const { iss: _iss, ...withoutIss } = input.params;
    const forged = await rejection(c.handleCallback({ ...input, params: withoutIss }, tx));
    expect(forged.code).toBe('issuer_mismatch');
    expect(forged.status).toBe(400);
  });

  it('a callback with neither code nor error, or oversized parameters', async () => {
    const c = await connector();
    const { input, tx } = await login(c);
    expect((await rejection(c.handleCallback({ ...input, params: { state: input.params.state as string, iss: up.issuer } }, tx))).code).toBe(
      'invalid_callback',
    );
    expect((await rejection(c.handleCallback({ ...input, params: { ...input.params, code: 'x'.repeat(10_000) } }, tx))).code).toBe(
      'invalid_callback',
    );
    expect((await rejection(c.handleCallback(input, { nonce: 1 }))).code).toBe('invalid_transaction');
  });

  it('the upstream down: a friendly error, no hang', async () => {
    const down = await connector({ issuer: await closedPortUrl() });
    const err = await rejection(down.startLogin({ interactionUid: 'u', callbackUrl: up.callbackUrl, state: 's' }));
    expect(err.code).toBe('upstream_unavailable');
    expect(err.status).toBe(503);
  });

  it('the upstream hanging: a timeout error, no hang', async () => {
    const hole = await startBlackhole();
    try {
      const c = await connector({ issuer: hole.url, timeoutMs: 300 });
      const err = await rejection(c.startLogin({ interactionUid: 'u', callbackUrl: up.callbackUrl, state: 's' }));
      expect(err.code).toBe('upstream_timeout');
      expect(err.status).toBe(503);
    } finally {
      await hole.close();
    }
  });

  it('a token endpoint that hangs after a good login: a timeout error', async () => {
    const hole = await startBlackhole();
    try {
      const c = await connector({
        timeoutMs: 300,
        endpoints: { authorization: `${up.issuer}/auth`, token: `${hole.url}/token`, jwks: `${up.issuer}/jwks`, issParameterSupported: true },
      });
      const { input, tx } = await login(c);
      const err = await rejection(c.handleCallback(input, tx));
      expect(err.code).toBe('upstream_timeout');
    } finally {
      await hole.close();
    }
  });
});

describe('refresh', () => {
  async function loggedIn(c: OidcConnector, upstream: TestUpstream = up): Promise<Identity> {
    const { input, tx } = await login(c, upstream);
    return c.handleCallback(input, tx);
  }

  it('refreshes the access token and follows refresh token rotation', async () => {
    const c = await connector();
    const identity = await loggedIn(c);
    const refreshed = await c.refresh(identity);
    expect(refreshed.subject).toBe('sub-alice');
    expect(refreshed.upstreamTokens!.accessToken).not.toBe(identity.upstreamTokens!.accessToken);
    expect(refreshed.upstreamTokens!.refreshToken).not.toBe(identity.upstreamTokens!.refreshToken);
    // The rotated-out refresh token is dead; the new one works.
    const stale = await rejection(c.refresh(identity));
    expect(stale.code).toBe('upstream_revoked');
  });

  it('an upstream refusing the broker\'s client credentials is a misconfiguration (upstream_client_rejected, 502), not a revocation', async () => {
    const identity = await loggedIn(await connector());
    const wrong = await connector({ clientSecret: 'not-the-secret-0123456789abcdef' });
    const err = await rejection(wrong.refresh(identity));
    expect(err.code).toBe('upstream_client_rejected');
    expect(err.status).toBe(502);
    expect(err.detail).toMatch(/^refresh: upstream token endpoint answered 401 error=invalid_client/);
  });

  it('works from a vault-only identity (no claims, just tokens)', async () => {
    const c = await connector();
    const identity = await loggedIn(c);
    const minimal: Identity = { connectorId: 'upstream', subject: identity.subject, groups: [], amr: [], rawClaims: {}, upstreamTokens: identity.upstreamTokens! };
    const refreshed = await c.refresh(minimal);
    expect(refreshed.email).toBe('alice@acme.test');
    expect(refreshed.upstreamTokens!.accessToken).toBeTruthy();
  });

  it('keeps the old refresh token when the upstream does not rotate', async () => {
    const still = await startTestUpstream({ rotateRefreshToken: false });
    try {
      const c = await connector({}, still);
      const identity = await loggedIn(c, still);
      const once = await c.refresh(identity);
      const twice = await c.refresh(once);
      expect(twice.upstreamTokens!.refreshToken).toBe(identity.upstreamTokens!.refreshToken);
    } finally {
      await still.close();
    }
  });

  it('reports a revoked grant as upstream_revoked', async () => {
    const c = await connector();
    const identity = await loggedIn(c);
    const revoke = await fetch(`${up.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${up.clientId}:${up.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: identity.upstreamTokens!.refreshToken!, token_type_hint: 'refresh_token' }),
    });
    expect(revoke.status).toBe(200);
    const err = await rejection(c.refresh(identity));
    expect(err.code).toBe('upstream_revoked');
    expect(err.status).toBe(401);
  });

  it('refuses a refreshed ID token about another subject', async () => {
    const c = await connector();
    const identity = await loggedIn(c);
    up.tamperIdTokens((claims) => up.signIdToken({ ...claims, sub: 'sub-bob' }));
    try {
      expect((await rejection(c.refresh(identity))).code).toBe('upstream_subject_mismatch');
    } finally {
      up.tamperIdTokens(undefined);
    }
  });

  it('needs a refresh token', async () => {
    const c = await connector();
    const identity = await loggedIn(c);
    const { refreshToken: _drop, ...tokens } = identity.upstreamTokens!;
    expect((await rejection(c.refresh({ ...identity, upstreamTokens: tokens }))).code).toBe('refresh_unavailable');
  });
});

describe('logout', () => {
  it('sends the browser to end_session_endpoint with id_token_hint and post_logout_redirect_uri', async () => {
    const c = await connector();
    const { input, tx } = await login(c);
    const identity = await c.handleCallback(input, tx);
    const result = await c.logout(identity, up.postLogoutRedirectUri, 'logout-state');
    const url = new URL(result!.redirectUrl);
    expect(url.origin + url.pathname).toBe(`${up.issuer}/session/end`);
    expect(url.searchParams.get('id_token_hint')).toBe(identity.upstreamTokens!.idToken);
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe(up.postLogoutRedirectUri);
    expect(url.searchParams.get('state')).toBe('logout-state');
    expect(url.searchParams.get('client_id')).toBe(up.clientId);
    // The upstream accepts it: it shows its logout confirmation instead of an error.
    const page = await fetch(url, { redirect: 'manual' });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('logout');
  });

  it('does nothing when disabled, or when the upstream has no end_session_endpoint', async () => {
    const identity: Identity = { connectorId: 'upstream', subject: 's', groups: [], amr: [], rawClaims: {} };
    expect(await (await connector({ upstreamLogout: false })).logout(identity, up.postLogoutRedirectUri, 's')).toBeUndefined();
    const explicit = await connector({ endpoints: { authorization: `${up.issuer}/auth`, token: `${up.issuer}/token`, jwks: `${up.issuer}/jwks` } });
    expect(await explicit.logout(identity, up.postLogoutRedirectUri, 's')).toBeUndefined();
    expect(await (await connector({ issuer: await closedPortUrl() })).logout(identity, up.postLogoutRedirectUri, 's')).toBeUndefined();
  });
});

describe('factory', () => {
  it('refuses allowInsecureRequests in production', async () => {
    const config = oidcConnectorFactory.configSchema.parse(up.connectorConfig());
    await expect(
      oidcConnectorFactory.create({ id: 'upstream', name: 'U', domains: [] }, config, testConnectorContext({ production: true })),
    ).rejects.toThrow(/allowInsecureRequests/);
  });

  it('refuses plain-HTTP upstreams without the flag (openid-client would too)', () => {
    const result = oidcConnectorFactory.configSchema.safeParse({ ...up.connectorConfig(), allowInsecureRequests: false });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.path).toEqual(['issuer']);
  });

  it('reports an issuer that is no URL as a problem, without throwing (found by the config property test)', () => {
    const result = oidcConnectorFactory.configSchema.safeParse({ ...up.connectorConfig(), issuer: 'not a url' });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => issue.path.join('.'))).toEqual(expect.arrayContaining(['issuer']));
  });
});
