// Test upstream: a real oidc-provider on a loopback port, a scripted browser for its login page, and ID token forgery tools.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { ClientMetadata, KoaContextWithOIDC } from 'oidc-provider';
import { startUpstreamOp, type UpstreamOp, type UpstreamOpOptions, type UpstreamUser } from '../../src/demo/upstream-oidc.js';
import type { ConnectorContext } from '../../src/connectors/registry.js';
import { MemoryStore } from '../../src/store/memory.js';

export const TEST_USERS: UpstreamUser[] = [
  { username: 'alice', password: 'alice-pw', sub: 'sub-alice', email: 'alice@acme.test', name: 'Alice Example', groups: ['admins', 'staff'] },
  { username: 'bob', password: 'bob-pw', sub: 'sub-bob', email: 'bob@other.test', name: 'Bob Example', groups: ['staff'], emailVerified: false },
];

/** Rewrites the id_token of the next token responses: receives the genuine token's claims and header. */
export type IdTokenTamper = (claims: JWTPayload, header: { alg?: string; kid?: string }) => Promise<string> | string;

export interface TestUpstream extends UpstreamOp {
  clientId: string;
  clientSecret: string;
  /** The callback URL registered for the connector. */
  callbackUrl: string;
  /** The broker's return point after an upstream logout (registered as post_logout_redirect_uri). */
  postLogoutRedirectUri: string;
  /** A connector `config` for this upstream (client_secret_basic, plain HTTP allowed), with overrides. */
  connectorConfig(overrides?: Record<string, unknown>): Record<string, unknown>;
  /** Tamper with every subsequent token response's id_token (undefined stops it). */
  tamperIdTokens(tamper: IdTokenTamper | undefined): void;
  /** Signs claims with the upstream's key (same kid) or another key that pretends to have the upstream's kid. */
  signIdToken(claims: JWTPayload, options?: { key?: 'upstream' | 'other'; alg?: string }): Promise<string>;
  /** An `alg: none` token. */
  unsignedIdToken(claims: JWTPayload): string;
  /** Drives the upstream login page like a browser; returns the URL the upstream redirected back to the callback with. */
  browserLogin(authorizationUrl: string, as?: { username: string; password: string } | 'abort'): Promise<URL>;
  /** Revokes a refresh token the upstream issued to the broker (an administrator disabling the user); throws unless 200. */
  revokeRefreshToken(refreshToken: string): Promise<void>;
}

export interface TestUpstreamOptions extends Partial<Omit<UpstreamOpOptions, 'clients'>> {
  /** Extra client metadata for the broker's client (e.g. token_endpoint_auth_method, jwks). */
  client?: Partial<ClientMetadata>;
  connectorId?: string;
  /** The broker issuer the callback and post-logout URLs point at (default an unused loopback port). */
  brokerIssuer?: string;
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

export async function startTestUpstream(options: TestUpstreamOptions = {}): Promise<TestUpstream> {
  const connectorId = options.connectorId ?? 'upstream';
  const brokerIssuer = options.brokerIssuer ?? 'http://127.0.0.1:9';
  const callbackUrl = `${brokerIssuer}/callback/${connectorId}`;
  const postLogoutRedirectUri = `${brokerIssuer}/logout/callback/${connectorId}`;
  const clientId = `broker-${randomBytes(4).toString('hex')}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const { client: clientOverrides, connectorId: _c, brokerIssuer: _b, ...opOptions } = options;
  let tamper: IdTokenTamper | undefined;
  const op = await startUpstreamOp({
    users: TEST_USERS,
    ...opOptions,
    configure: (provider) => {
      provider.use(async (ctx, next) => {
        await next();
        const body = ctx.body as Record<string, unknown> | undefined;
        if (tamper && ctx.path === '/token' && ctx.status === 200 && body && typeof body.id_token === 'string') {
          ctx.body = { ...body, id_token: await tamper(decodeJwt(body.id_token), decodeProtectedHeader(body.id_token)) };
        }
      });
      opOptions.configure?.(provider);
    },
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [callbackUrl],
        post_logout_redirect_uris: [postLogoutRedirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        ...clientOverrides,
      },
    ],
  });

  const upstreamJwk = op.jwks[0] as JWK;
  const { privateKey: otherKey } = await generateKeyPair('RS256', { extractable: true });
  const otherJwk = await exportJWK(otherKey);


  async function signIdToken(claims: JWTPayload, signOptions: { key?: 'upstream' | 'other'; alg?: string } = {}): Promise<string> {
    const alg = signOptions.alg ?? 'RS256';
    const jwk = signOptions.key === 'other' ? otherJwk : upstreamJwk;
    return new SignJWT(claims).setProtectedHeader({ alg, kid: upstreamJwk.kid as string, typ: 'JWT' }).sign(await importJWK(jwk, alg));
  }

  async function browserLogin(authorizationUrl: string, as: { username: string; password: string } | 'abort' = { username: 'alice', password: 'alice-pw' }): Promise<URL> {
    const jar = new Map<string, string>();
    let url = new URL(authorizationUrl);
    let init: { method: string; body?: string } = { method: 'GET' };
    let submitted = false;
    for (let hop = 0; hop < 20; hop++) {
      if (url.origin + url.pathname === callbackUrl) return url;
      const headers: Record<string, string> = { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
      if (init.body) headers['content-type'] = 'application/x-www-form-urlencoded';
      const response = await fetch(url, { ...init, headers, redirect: 'manual' });
      for (const cookie of response.headers.getSetCookie()) {
        const [pair = ''] = cookie.split(';');
        const eq = pair.indexOf('=');
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        if (!value || /expires=Thu, 01 Jan 1970/i.test(cookie) || /max-age=0/i.test(cookie)) jar.delete(name);
        else jar.set(name, value);
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        url = new URL(location, url);
        init = { method: 'GET' };
        continue;
      }
      const html = await response.text();
      const uid = /action="\/interaction\/([\w-]+)\/login"/.exec(html)?.[1];
      if (response.status !== 200 || !uid || submitted) {
        throw new Error(`upstream login did not complete: ${response.status} ${html.slice(0, 300)}`);
      }
      submitted = true;
      url = new URL(`/interaction/${uid}/${as === 'abort' ? 'abort' : 'login'}`, url);
      init = { method: 'POST', body: as === 'abort' ? '' : new URLSearchParams(as).toString() };
    }
    throw new Error('too many redirects');
  }

  return {
    ...op,
    clientId,
    clientSecret,
    callbackUrl,
    postLogoutRedirectUri,
    connectorConfig: (overrides = {}) => ({
      issuer: op.issuer,
      clientId,
      clientSecret,
      allowInsecureRequests: true,
      scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
      ...overrides,
    }),
    tamperIdTokens: (fn) => {
      tamper = fn;
    },
    signIdToken,
    unsignedIdToken: (claims) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
    browserLogin,
    async revokeRefreshToken(refreshToken) {
      const response = await fetch(`${op.issuer}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
        body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }).toString(),
      });
      if (response.status !== 200) throw new Error(`upstream revocation answered ${response.status}`);
    },
  };
}

/** An upstream (connector id `acme`) whose token endpoint counts refresh grants and can be taken down (503) and brought back. */
export async function startCountingUpstream(brokerIssuer: string, accessTokenTtl = 3600): Promise<{ upstream: TestUpstream; state: { refreshes: number; down: boolean } }> {
  const state = { refreshes: 0, down: false };
  const upstream = await startTestUpstream({
    brokerIssuer,
    connectorId: 'acme',
    ttl: { accessToken: accessTokenTtl },
    configure: (provider) =>
      provider.use(async (ctx, next) => {
        if (ctx.path === '/token' && ctx.method === 'POST' && state.down) {
          ctx.status = 503;
          ctx.body = 'maintenance';
          return;
        }
        await next();
        if (ctx.path === '/token' && ctx.status === 200 && (ctx as KoaContextWithOIDC).oidc?.params?.grant_type === 'refresh_token') state.refreshes += 1;
      }),
  });
  return { upstream, state };
}

/** A TCP server that accepts connections and never answers: the "upstream hangs" case. */
export async function startBlackhole(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(() => {
    /* never respond */
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port nothing listens on right now. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A URL on a free loopback port with nothing listening: the "upstream down" case. */
export async function closedPortUrl(): Promise<string> {
  return `http://127.0.0.1:${await freeLoopbackPort()}`;
}

/** A ConnectorContext for connector-level tests (silent logger, memory store). */
export function testConnectorContext(overrides: Partial<ConnectorContext> = {}): ConnectorContext {
  return {
    issuer: 'http://127.0.0.1:9',
    store: new MemoryStore({ sweepMs: 0 }),
    logger: pino({ level: 'silent' }),
    now: Date.now,
    baseDir: process.cwd(),
    httpTimeoutMs: 3000,
    production: false,
    ...overrides,
  };
}

/** A fetch that counts the token requests it passes on (a circuit's fetch calls it only when it lets a call through). */
export function countingTokenFetch(): { fetch: typeof fetch; posts: () => number } {
  let posts = 0;
  const counting: typeof fetch = (input, init) => {
    if (String(input instanceof Request ? input.url : input).endsWith('/token')) posts++;
    return fetch(input, init);
  };
  return { fetch: counting, posts: () => posts };
}
