// oidc-provider's interaction policy plus the broker's checks: the federated session must live, suit the client and be confirmed upstream when marked (login), the access decision (access), and a second factor when one is due (mfa).
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { readSessionCookie } from '../federation/session-cookie.js';
import type { FederatedSession } from '../session/federated-session.js';
import type { BrowserAccount } from './account-state.js';

const { base, Check, Prompt } = interactionPolicy;

/** Which upstream providers a client may use (undefined: every configured one). */
export type ProvidersAllowed = (clientId: string, connectorId: string) => boolean;

/** Why an authorization that reuses a session needs a second factor first. */
export type StepUpReason = 'acr_requested' | 'client_requires_mfa' | 'risk_medium' | 'upstream_signal';

/** What the broker decides about one authorization on a live session: refuse it, ask for a second factor, or let it pass. */
export type AuthorizationJudgement = { kind: 'allow' } | { kind: 'deny'; reason: string } | { kind: 'step_up'; reason: StepUpReason; level: 'low' | 'medium' | 'high' };

/**
 * Whether the browser's federated session may be reused: `usable`, `ended` (sign in again) or `reauth` (marked for
 * re-authentication: the browser goes through its upstream first, SAML IsPassive or ForceAuthn). An overdue session is
 * re-verified first (session/lazy-check.ts).
 */
export type SessionUse = 'usable' | 'ended' | 'reauth';
export type SessionUsable = (session: FederatedSession) => Promise<SessionUse>;

/** The interaction reason under which the interaction page sends the browser through the session's upstream. */
export const UPSTREAM_REAUTH = 'upstream_reauth';

/** Judges an authorization on the browser's live federated session (access policy, risk, acr); called once per request. */
export type JudgeAuthorization = (ctx: KoaContextWithOIDC, session: FederatedSession) => Promise<AuthorizationJudgement>;

/**
 * The browser's federated session, as named by its broker cookie, when it belongs to the account oidc-provider's
 * session holds and has not ended. Undefined otherwise: then the browser must sign in again.
 */
export function browserSessionId(ctx: KoaContextWithOIDC): string | undefined {
  const account = ctx.oidc.account as BrowserAccount | undefined;
  const pointer = readSessionCookie(ctx);
  if (!account || !pointer || pointer.accountId !== account.accountId || pointer.accountId !== ctx.oidc.session?.accountId) return undefined;
  return account.liveSessionIds.includes(pointer.sessionId) ? pointer.sessionId : undefined;
}

/** The browser's live federated session record (findAccount read it alongside the account). */
export function browserSession(ctx: KoaContextWithOIDC): FederatedSession | undefined {
  const account = ctx.oidc.account as BrowserAccount | undefined;
  const id = browserSessionId(ctx);
  return id !== undefined && account?.browserSession?.id === id ? account.browserSession : undefined;
}

/** One judgement per request, shared by the access and mfa checks. */
function memoized(judge: JudgeAuthorization) {
  const judged = new WeakMap<KoaContextWithOIDC, Promise<AuthorizationJudgement>>();
  return (ctx: KoaContextWithOIDC): Promise<AuthorizationJudgement> => {
    const session = browserSession(ctx);
    if (!session) return Promise.resolve({ kind: 'allow' });
    let judgement = judged.get(ctx);
    if (!judgement) {
      judgement = judge(ctx, session);
      judged.set(ctx, judgement);
    }
    return judgement;
  };
}

/**
 * Adds to the login prompt: sign in again when the browser's federated session has ended (logout elsewhere, SAML
 * SLO, refused by its upstream, expired, or refused by the re-verification an overdue session gets first), when the
 * cookie names another account's session, or when this client does not allow the session's upstream; and a round trip
 * through the upstream when the session is marked for re-authentication (`upstream_reauth`). Under prompt=none both
 * answer login_required, as the spec says.
 *
 * Then two prompts of the broker's own, after login and before consent:
 * - access: the client's access policy or a high risk refuses the authorization (prompt=none: access_denied);
 * - mfa: a second factor is due (a higher acr asked for, the client requires MFA, a medium risk): the factor page, never
 *   a new password prompt (prompt=none: interaction_required). The essential-acr checks of the login prompt move here.
 */
export function createInteractionPolicy(
  providersAllowed: ProvidersAllowed,
  judge: JudgeAuthorization = async () => ({ kind: 'allow' }),
  sessionUsable: SessionUsable = async () => 'usable',
) {
  const policy = base();
  const login = policy.get('login')!;
  // One answer per request, shared by the two checks below (oidc-provider runs a prompt's checks at the same time).
  const uses = new WeakMap<KoaContextWithOIDC, Promise<SessionUse | undefined>>();
  const sessionUse = (ctx: KoaContextWithOIDC): Promise<SessionUse | undefined> => {
    let use = uses.get(ctx);
    if (!use) {
      use = (async () => {
        if (!ctx.oidc.session?.accountId) return undefined; // no_session asks already
        const account = ctx.oidc.account as BrowserAccount | undefined;
        if (!account || browserSessionId(ctx) === undefined) return 'ended';
        if (!providersAllowed(ctx.oidc.client!.clientId, account.connectorId)) return 'ended';
        const session = browserSession(ctx);
        return session ? sessionUsable(session) : 'usable';
      })();
      uses.set(ctx, use);
    }
    return use;
  };
  login.checks.add(
    new Check('federated_session', 'the broker session is not usable for this client', 'login_required', async (ctx: KoaContextWithOIDC) =>
      (await sessionUse(ctx)) === 'ended' ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  // A session marked for re-authentication goes through its upstream (no broker page); under prompt=none: login_required.
  login.checks.add(
    new Check(UPSTREAM_REAUTH, 'the upstream identity provider must confirm the session first', 'login_required', async (ctx: KoaContextWithOIDC) =>
      (await sessionUse(ctx)) === 'reauth' ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  login.checks.remove('essential_acr');
  login.checks.remove('essential_acrs');
  const judgement = memoized(judge);
  const access = new Prompt(
    { name: 'access', requestable: false },
    async (ctx: KoaContextWithOIDC) => {
      const decided = await judgement(ctx);
      return decided.kind === 'deny' ? { reason: decided.reason } : {};
    },
    new Check('access_refused', 'the access policy or the risk level refuses this authorization', 'access_denied', async (ctx: KoaContextWithOIDC) => ((await judgement(ctx)).kind === 'deny' ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT)),
  );
  const mfa = new Prompt(
    { name: 'mfa', requestable: false },
    async (ctx: KoaContextWithOIDC) => {
      const decided = await judgement(ctx);
      return decided.kind === 'step_up' ? { reason: decided.reason, level: decided.level } : {};
    },
    new Check('second_factor', 'a second factor is required', 'interaction_required', async (ctx: KoaContextWithOIDC) => ((await judgement(ctx)).kind === 'step_up' ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT)),
  );
  policy.add(access, 1);
  policy.add(mfa, 2);
  return policy;
}
