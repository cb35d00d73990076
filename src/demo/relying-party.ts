// The demo relying party at /demo: signs in through the broker itself with openid-client and shows the ID token claims as a card, the sign-in's risk, a sensitive action that asks for MFA, a link to account security and a SAML session's pending round trip; cancel and sign-out land back here with a message.
import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { BrokerContext } from '../context.js';
import { DEMO_CLIENT_ID } from '../config/development.js';
import { csrfToken, csrfValid } from '../http/csrf.js';
import { HttpError } from '../http/errors.js';
import { ACR_MFA } from '../mfa/assurance.js';
import { readForm } from '../http/form.js';
import type { FederatedSession } from '../session/federated-session.js';
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
  /** The app's access token: the page asks the broker's userinfo with it, so a newcomer sees it die with the session. */
  accessToken?: string;
}

/** Runs a session's re-verification now (reverify.ts checkSession), whatever its due time: the demo's "check now". */
export type CheckNow = (session: FederatedSession) => Promise<string>;

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

/** The account's newest live federated session (the one the timeline shows). */
async function newestSession(broker: BrokerContext, accountId: string): Promise<FederatedSession | undefined> {
  const ids = await broker.sessions.sessionsOf(accountId, broker.now());
  const sessions = (await Promise.all(ids.map((id) => broker.sessions.get(accountId, id)))).filter((s) => s !== undefined);
  return sessions.sort((a, b) => b.createdAt - a.createdAt)[0];
}

export function demoRoutes(router: Router, broker: BrokerContext, audit: AuditTail, checkNow: CheckNow): void {
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

  /** Whether the broker still accepts the app's access token (userinfo answers 200). */
  const tokenStatus = async (session: DemoSession) => {
    if (!session.accessToken) return undefined;
    const answer = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${session.accessToken}` }, signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    return answer?.status === 200 ? 'accepted' : 'refused';
  };
  // The demo OIDC upstream's user administration, where a newcomer revokes the user.
  const upstreamUsersUrl = (() => {
    const upstream = broker.config.providers.find((provider) => provider.id === 'demo-oidc')?.config as { issuer?: unknown } | undefined;
    return typeof upstream?.issuer === 'string' ? `${upstream.issuer}/users` : undefined;
  })();

  /** The risk decision of the signed-in user's newest session: level, score and the signals behind it (no secrets). */
  const riskOf = async (session: DemoSession | undefined) => {
    const sub = session?.claims.sub;
    const federated = typeof sub === 'string' ? await newestSession(broker, sub) : undefined;
    return federated?.risk ? { level: federated.risk.level, score: federated.risk.score, signals: federated.risk.signals } : undefined;
  };

  /** Whether the signed-in user's newest session is marked for a round trip through its identity provider (SAML). */
  const reauthPending = async (session: DemoSession | undefined) => {
    const sub = session?.claims.sub;
    return typeof sub === 'string' && (await newestSession(broker, sub))?.reauth != null;
  };

  router.get('/demo', async (ctx) => {
    const session = await sessionOf(ctx);
    const demoId = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    const signedOut = !session && ctx.cookies.get(SIGNED_OUT_COOKIE, { signed: true }) === '1';
    if (ctx.cookies.get(SIGNED_OUT_COOKIE)) ctx.cookies.set(SIGNED_OUT_COOKIE, null, cookieOptions);
    broker.renderer.render(ctx, 'demo', {
      claims: session ? JSON.stringify(session.claims, null, 2) : undefined,
      card: session ? claimCard(session.claims) : undefined,
      timeline: session ? await sessionTimeline(broker, session.claims, Date.now(), audit) : undefined,
      tokenStatus: session ? await tokenStatus(session) : undefined,
      checkCsrf: session && demoId ? csrfToken(broker.config.cookieKeys[0]!, `demo-check:${demoId}`) : undefined,
      checked: typeof ctx.query.checked === 'string' ? ctx.query.checked.slice(0, 20) : undefined,
      upstreamUsersUrl,
      risk: await riskOf(session),
      reauthPending: await reauthPending(session),
      mfaAcr: ACR_MFA,
      notice: signedOut ? 'signedOut' : ctx.query.outcome === 'cancelled' ? 'cancelled' : undefined,
      users: broker.config.demoCredentials?.users,
    });
  });

  router.get('/demo/login', async (ctx) => {
    const config = await configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    // The account security page sends a browser without a session here (?next=account): back there after the sign-in.
    const next = ctx.query.next === 'account' ? 'account' : undefined;
    ctx.cookies.set(TX_COOKIE, JSON.stringify({ verifier, state, nonce, ...(next ? { next } : {}) }), { ...cookieOptions, maxAge: 600_000 });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: client.redirectUris[0]!,
      scope: 'openid profile email groups',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      // The sensitive action asks for the MFA acr: enrolment or a factor prompt, then acr/amr show the second factor.
      ...(ctx.query.sensitive === '1' ? { acr_values: ACR_MFA } : {}),
    });
    ctx.redirect(url.href);
  });

  router.get('/demo/callback', async (ctx) => {
    const raw = ctx.cookies.get(TX_COOKIE, { signed: true });
    if (!raw) throw new HttpError(400, 'transaction_not_found', 'demo: no transaction cookie');
    const tx = JSON.parse(raw) as { verifier: string; state: string; nonce: string; next?: 'account' };
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
    await broker.store.set(`demo:${id}`, { claims: tokens.claims() ?? {}, idToken: tokens.id_token ?? '', accessToken: tokens.access_token } satisfies DemoSession, TTL_MS);
    ctx.cookies.set(SESSION_COOKIE, id, { ...cookieOptions, maxAge: TTL_MS });
    ctx.redirect(tx.next === 'account' ? '/account/security' : '/demo');
  });

  // "Check now": re-verifies the signed-in user's newest session at once (what the sweep does when it is due).
  router.post('/demo/check', async (ctx) => {
    const demoId = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    const form = await readForm(ctx, 4096);
    if (!demoId || !csrfValid(broker.config.cookieKeys[0]!, `demo-check:${demoId}`, form.csrf)) throw new HttpError(400, 'csrf', 'demo: check without its form token');
    const session = await sessionOf(ctx);
    const sub = session?.claims.sub;
    const federated = typeof sub === 'string' ? await newestSession(broker, sub) : undefined;
    const outcome = federated ? await checkNow(federated) : 'gone';
    ctx.redirect(`/demo?checked=${encodeURIComponent(outcome)}`);
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
