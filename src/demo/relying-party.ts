// The demo relying party at /demo: signs in through the broker itself with openid-client and shows the ID token claims as a card; cancel and sign-out land back here with a message.
import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { BrokerContext } from '../context.js';
import { DEMO_CLIENT_ID } from '../config/development.js';
import { HttpError } from '../http/errors.js';
import type { AuditTail } from './audit-tail.js';
import { sessionTimeline } from './timeline.js';

const TX_COOKIE = 'vestibule_demo_tx';
const SESSION_COOKIE = 'vestibule_demo';
/** Set at sign-out, read (and cleared) by the next /demo page: "you are signed out". */
const SIGNED_OUT_COOKIE = 'vestibule_demo_out';
const TTL_MS = 3600_000;

interface DemoSession {
  claims: Record<string, unknown>;
  idToken: string;
}

const CARD_CLAIMS = ['name', 'email', 'email_verified', 'preferred_username', 'groups', 'acr', 'amr', 'auth_time', 'exp', 'iss', 'sub'];

/** The ID token's claims people read first, as label keys and display values (times as ISO dates, lists joined). */
function claimCard(claims: Record<string, unknown>): { key: string; value: string | boolean }[] {
  return CARD_CLAIMS.filter((key) => claims[key] !== undefined).map((key) => {
    const value = claims[key];
    if ((key === 'auth_time' || key === 'exp') && typeof value === 'number') return { key, value: new Date(value * 1000).toISOString().replace('.000Z', 'Z') };
    if (Array.isArray(value)) return { key, value: value.join(', ') };
    return { key, value: typeof value === 'boolean' ? value : String(value) };
  });
}

export function demoRoutes(router: Router, broker: BrokerContext, audit: AuditTail): void {
  const client = broker.clients.get(DEMO_CLIENT_ID);
  if (!client?.clientSecret) return;
  const issuer = broker.config.issuer;
  let discovered: Promise<oidc.Configuration> | undefined;
  const configuration = () => {
    discovered ??= oidc
      .discovery(new URL(issuer), client.clientId, client.clientSecret, undefined, {
        execute: issuer.startsWith('http://') ? [oidc.allowInsecureRequests] : [],
      })
      .catch((error: unknown) => {
        discovered = undefined;
        throw error;
      });
    return discovered;
  };
  const cookieOptions = { signed: true, httpOnly: true, sameSite: 'lax' as const, overwrite: true, path: '/demo' };
  const sessionOf = async (ctx: Context) => {
    const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    return id ? broker.store.get<DemoSession>(`demo:${id}`) : undefined;
  };

  router.get('/demo', async (ctx) => {
    const session = await sessionOf(ctx);
    const signedOut = !session && ctx.cookies.get(SIGNED_OUT_COOKIE, { signed: true }) === '1';
    if (ctx.cookies.get(SIGNED_OUT_COOKIE)) ctx.cookies.set(SIGNED_OUT_COOKIE, null, cookieOptions);
    broker.renderer.render(ctx, 'demo', {
      claims: session ? JSON.stringify(session.claims, null, 2) : undefined,
      card: session ? claimCard(session.claims) : undefined,
      timeline: session ? await sessionTimeline(broker, session.claims, Date.now(), audit) : undefined,
      notice: signedOut ? 'signedOut' : ctx.query.outcome === 'cancelled' ? 'cancelled' : undefined,
      users: broker.config.demoCredentials?.users,
    });
  });

  router.get('/demo/login', async (ctx) => {
    const config = await configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    ctx.cookies.set(TX_COOKIE, JSON.stringify({ verifier, state, nonce }), { ...cookieOptions, maxAge: 600_000 });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: client.redirectUris[0]!,
      scope: 'openid profile email groups',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    ctx.redirect(url.href);
  });

  router.get('/demo/callback', async (ctx) => {
    const raw = ctx.cookies.get(TX_COOKIE, { signed: true });
    if (!raw) throw new HttpError(400, 'transaction_not_found', 'demo: no transaction cookie');
    const tx = JSON.parse(raw) as { verifier: string; state: string; nonce: string };
    ctx.cookies.set(TX_COOKIE, null, cookieOptions);
    // Cancel at the broker, or consent denied: the broker sent the user back with an error, the way on is to sign in again.
    if (ctx.query.error === 'access_denied' && ctx.query.state === tx.state) return ctx.redirect('/demo?outcome=cancelled');
    const config = await configuration();
    let tokens;
    try {
      tokens = await oidc.authorizationCodeGrant(config, new URL(ctx.originalUrl, issuer), {
        pkceCodeVerifier: tx.verifier,
        expectedState: tx.state,
        expectedNonce: tx.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw new HttpError(400, 'access_denied', `demo: ${(error as Error).message}`);
    }
    const id = randomBytes(18).toString('base64url');
    await broker.store.set(`demo:${id}`, { claims: tokens.claims() ?? {}, idToken: tokens.id_token ?? '' }, TTL_MS);
    ctx.cookies.set(SESSION_COOKIE, id, { ...cookieOptions, maxAge: TTL_MS });
    ctx.redirect('/demo');
  });

  router.get('/demo/logout', async (ctx) => {
    const session = await sessionOf(ctx);
    const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    if (id) await broker.store.delete(`demo:${id}`);
    ctx.cookies.set(SESSION_COOKIE, null, cookieOptions);
    ctx.cookies.set(SIGNED_OUT_COOKIE, '1', { ...cookieOptions, maxAge: 600_000 });
    if (!session) return ctx.redirect('/demo');
    const config = await configuration();
    ctx.redirect(oidc.buildEndSessionUrl(config, { id_token_hint: session.idToken, post_logout_redirect_uri: client.postLogoutRedirectUris[0]! }).href);
  });
}
