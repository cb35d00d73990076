// Sample upstream OpenID Provider (a second oidc-provider on a loopback port) with a plain login page, for dev mode and tests.
import { MemoryStore } from '../store/memory.js';
import { createOidcAdapter } from '../store/oidc-adapter.js';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Provider, { type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { ProviderFile } from '../config/schema.js';

export interface UpstreamUser {
  username: string;
  password: string;
  sub: string;
  email: string;
  emailVerified?: boolean;
  name: string;
  groups?: string[];
}

export interface UpstreamOpOptions {
  /** Port to listen on (0 = any free port). */
  port?: number;
  /** Loopback address to listen on and to name in the issuer. Default 127.0.0.1. */
  host?: string;
  clients: ClientMetadata[];
  users: UpstreamUser[];
  /** Token lifetimes in seconds. */
  ttl?: { accessToken?: number; idToken?: number; refreshToken?: number };
  /** Issue a new refresh token on every refresh (default true). */
  rotateRefreshToken?: boolean;
  /** Put scope claims (email, name, groups) in the ID token too, not only in userinfo (default true). */
  claimsInIdToken?: boolean;
  /** acr / amr the upstream asserts for a password login. */
  loginAcr?: string;
  loginAmr?: string[];
  /** Private signing keys (JWKs with kid); generated when absent. */
  jwks?: JWK[];
  title?: string;
  /**
   * Sign out at once when the broker sends the browser here to log out (the user already confirmed at the broker):
   * the confirmation form posts itself (nonce'd script, a button when scripts are off). Default: oidc-provider's question.
   */
  autoConfirmLogout?: boolean;
  /** Called before the HTTP handler is built, e.g. to add Koa middleware (provider.use) in tests. */
  configure?: (provider: Provider) => void;
}

export interface UpstreamOp {
  issuer: string;
  provider: Provider;
  /** The private signing keys the upstream uses. */
  jwks: JWK[];
  close(): Promise<void>;
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** The head of the upstream's pages: phone-width viewport, and a style allowed by the response's CSP nonce. */
function head(title: string, nonce: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style nonce="${nonce}">body{font-family:system-ui,sans-serif;max-width:26rem;margin:1rem auto;padding:0 1rem;overflow-wrap:anywhere}label{display:block;margin:.75rem 0}input{display:block;width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}button{margin-top:1rem;padding:.6rem 1rem;font-size:1rem}</style></head>`;
}

function pageCsp(ctx: KoaContextWithOIDC): string {
  const nonce = randomBytes(16).toString('base64');
  ctx.set('Content-Security-Policy', `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; frame-ancestors 'none'; base-uri 'none'`);
  return nonce;
}

function loginPage(nonce: string, title: string, uid: string, hint: string, error?: string): string {
  return `${head(title, nonce)}<body><main>
<h1>${escapeHtml(title)}</h1>${error ? `<p role="alert" id="login-error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Username <input name="username" autocomplete="username" value="${escapeHtml(hint)}" required${error ? ' aria-describedby="login-error"' : ' autofocus'}></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required${error ? ' autofocus aria-describedby="login-error"' : ''}></label>
<button type="submit">Sign in</button></form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort"><button type="submit">Cancel</button></form>
</main></body></html>`;
}

/** The logout confirmation that confirms itself: oidc-provider's form (its action and xsrf) with logout=yes. */
function autoLogoutPage(nonce: string, form: string): string {
  const confirmed = form.replace('</form>', '<input type="hidden" name="logout" value="yes"><noscript><button type="submit">Sign out</button></noscript></form>');
  return `${head('Signing out…', nonce)}<body><main><h1>Signing out…</h1>${confirmed}</main>
<script nonce="${nonce}">document.getElementById('op.logoutForm').submit();</script></body></html>`;
}

async function readForm(req: IncomingMessage, limit = 16 * 1024): Promise<URLSearchParams> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function passwordMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function usersPage(nonce: string, title: string, users: readonly UpstreamUser[], disabled: ReadonlySet<string>): string {
  const rows = users
    .map((user) => {
      const off = disabled.has(user.sub);
      const action = off ? 'restore' : 'revoke';
      return `<li><strong>${escapeHtml(user.username)}</strong> (${escapeHtml(user.email)}): ${off ? 'revoked' : 'active'}
<form method="post" action="/users/${encodeURIComponent(user.sub)}/${action}"><button type="submit">${off ? 'Restore' : 'Revoke'} ${escapeHtml(user.username)}</button></form></li>`;
    })
    .join('\n');
  return `${head(title, nonce)}<body><main><h1>${escapeHtml(title)}: users</h1>
<p>Revoking a user disables the account here: its refresh tokens stop working, so the broker ends the user's sessions at the next check.</p>
<ul>${rows}</ul></main></body></html>`;
}

/**
 * The upstream's user administration (demo): GET /users lists the users, POST /users/<sub>/revoke disables one (its
 * refresh grants answer invalid_grant from then on), /restore enables it again. Forms only from this origin.
 */
async function userRoutes(ctx: KoaContextWithOIDC, issuer: string, options: UpstreamOpOptions, disabled: Set<string>, next: () => Promise<void>) {
  if (ctx.path === '/users' && ctx.method === 'GET') {
    ctx.set('cache-control', 'no-store');
    ctx.type = 'html';
    ctx.body = usersPage(pageCsp(ctx), options.title ?? 'Upstream IdP', options.users, disabled);
    return;
  }
  const match = /^\/users\/([^/]+)\/(revoke|restore)$/.exec(ctx.path);
  if (!match || ctx.method !== 'POST') return next();
  if (ctx.get('origin') !== new URL(issuer).origin) ctx.throw(403, 'forms are accepted from this site only');
  const sub = decodeURIComponent(match[1]!);
  if (!options.users.some((user) => user.sub === sub)) ctx.throw(404, 'no such user');
  if (match[2] === 'revoke') disabled.add(sub);
  else disabled.delete(sub);
  ctx.redirect('/users');
}

async function interactionRoutes(ctx: KoaContextWithOIDC, provider: Provider, options: UpstreamOpOptions, disabled: ReadonlySet<string>, next: () => Promise<void>) {
  const match = /^\/interaction\/([\w-]+)(\/login|\/abort)?$/.exec(ctx.path);
  if (!match) return next();
  const [, uid = '', action] = match;
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  const title = options.title ?? 'Upstream sign-in';
  ctx.set('cache-control', 'no-store');

  if (ctx.method === 'GET' && !action) {
    if (details.prompt.name === 'consent') {
      // A first-party upstream: grant what the broker asked for without a consent page.
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session?.accountId ?? '', clientId: String(details.params.client_id) });
      if (!grant) ctx.throw(400, 'unknown grant');
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true }));
      return;
    }
    ctx.type = 'html';
    ctx.body = loginPage(pageCsp(ctx), title, uid, typeof details.params.login_hint === 'string' ? details.params.login_hint : '');
    return;
  }
  if (ctx.method === 'POST' && action === '/abort') {
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }));
    return;
  }
  if (ctx.method === 'POST' && action === '/login') {
    const form = await readForm(ctx.req);
    const user = options.users.find((u) => u.username === form.get('username'));
    const ok = passwordMatches(form.get('password') ?? '', user?.password ?? randomBytes(16).toString('hex'));
    if (!user || !ok || disabled.has(user.sub)) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginPage(pageCsp(ctx), title, uid, form.get('username') ?? '', 'Wrong username or password.');
      return;
    }
    const login = { accountId: user.sub, acr: options.loginAcr ?? 'urn:upstream:acr:pwd', amr: options.loginAmr ?? ['pwd'], remember: false };
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false }));
    return;
  }
  ctx.throw(405, 'method not allowed');
}

/** Starts an upstream OpenID Provider on a loopback port. */
export async function startUpstreamOp(options: UpstreamOpOptions): Promise<UpstreamOp> {
  const host = options.host ?? '127.0.0.1';
  let handler: Parameters<typeof createServer>[1] = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server: Server = createServer((req, res) => handler?.(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host}:${port}`;

  let jwks = options.jwks;
  if (!jwks) {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    jwks = [{ ...(await exportJWK(privateKey)), kid: `up-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' }];
  }
  const users = new Map(options.users.map((u) => [u.sub, u]));
  /** Users an administrator revoked (GET /users): no sign-in, no account for their tokens. */
  const disabled = new Set<string>();
  const ttl = options.ttl ?? {};
  const configuration: Configuration = {
    // Its own in-process store: the demo upstream keeps nothing across restarts, by design.
    adapter: createOidcAdapter(new MemoryStore()),
    clients: options.clients,
    jwks: { keys: jwks } as Configuration['jwks'],
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: async (_ctx, sub) => {
      const user = users.get(sub);
      if (!user || disabled.has(sub)) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          email: user.email,
          email_verified: user.emailVerified ?? true,
          name: user.name,
          preferred_username: user.username,
          groups: user.groups ?? [],
        }),
      };
    },
    claims: {
      // acr/amr/auth_time/sid ride with the openid scope so every ID token carries them.
      openid: ['sub', 'acr', 'amr', 'auth_time', 'sid'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    } as unknown as Configuration['claims'],
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    conformIdTokenClaims: !(options.claimsInIdToken ?? true),
    acrValues: ['urn:upstream:acr:pwd', 'urn:upstream:acr:mfa', ...(options.loginAcr ? [options.loginAcr] : [])],
    responseTypes: ['code'],
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        ...(options.autoConfirmLogout
          ? {
              logoutSource: async (ctx: KoaContextWithOIDC, form: string) => {
                ctx.type = 'html';
                ctx.body = autoLogoutPage(pageCsp(ctx), form);
              },
            }
          : {}),
      },
      revocation: { enabled: true },
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: options.rotateRefreshToken ?? true,
    ttl: {
      AccessToken: ttl.accessToken ?? 3600,
      IdToken: ttl.idToken ?? 3600,
      RefreshToken: ttl.refreshToken ?? 86400,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 3600,
      Grant: 86400,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  };
  const provider = new Provider(issuer, configuration);
  provider.use((ctx, next) => userRoutes(ctx as KoaContextWithOIDC, issuer, options, disabled, next));
  provider.use((ctx, next) => interactionRoutes(ctx as KoaContextWithOIDC, provider, options, disabled, next));
  options.configure?.(provider);
  handler = provider.callback();

  return {
    issuer,
    provider,
    jwks,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface DemoUpstreamOidc {
  issuer: string;
  /** Register this with the broker (same shape as a providers/*.json file). */
  providerFile: ProviderFile;
  close(): Promise<void>;
}

/** The development-mode upstream: demo users alice and bob, a client for the broker at `brokerIssuer`. */
export async function startDemoUpstreamOidc(options: { port: number; brokerIssuer: string; host?: string }): Promise<DemoUpstreamOidc> {
  const providerId = 'demo-oidc';
  const brokerIssuer = options.brokerIssuer.replace(/\/+$/, '');
  const clientSecret = randomBytes(32).toString('base64url');
  const op = await startUpstreamOp({
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    title: 'Demo upstream IdP (alice / alice-password, bob / bob-password)',
    autoConfirmLogout: true,
    clients: [
      {
        client_id: 'vestibule-demo',
        client_secret: clientSecret,
        redirect_uris: [`${brokerIssuer}/callback/${providerId}`],
        post_logout_redirect_uris: [`${brokerIssuer}/logout/callback/${providerId}`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    users: [
      { username: 'alice', password: 'alice-password', sub: 'demo-alice', email: 'alice@demo.example', name: 'Alice Demo', groups: ['admins', 'staff'] },
      { username: 'bob', password: 'bob-password', sub: 'demo-bob', email: 'bob@demo.example', name: 'Bob Demo', groups: ['staff'] },
    ],
  });
  const providerFile: ProviderFile = {
    id: providerId,
    type: 'oidc',
    name: 'Demo OIDC IdP',
    domains: ['demo.example'],
    config: {
      issuer: op.issuer,
      clientId: 'vestibule-demo',
      clientSecret,
      tokenEndpointAuthMethod: 'client_secret_basic',
      scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
      allowInsecureRequests: true,
      passAcrValues: true,
      passMaxAge: true,
      passPromptLogin: true,
      claims: { groupPrefix: 'demo:' },
    },
  };
  return { issuer: op.issuer, providerFile, close: () => op.close() };
}
