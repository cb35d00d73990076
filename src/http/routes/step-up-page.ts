// The step-up's factor page (or a first enrolment) and the interaction it answers: an authorization's mfa prompt on a live session, or the sign-in of this very interaction holding its login back until a factor is verified.
import type { Context } from 'koa';
import type { BrokerContext } from '../../context.js';
import { readSessionCookie } from '../../federation/session-cookie.js';
import { browserFederatedSession, stepUpSession } from '../../federation/step-up.js';
import type { PendingLogin } from '../../federation/transactions.js';
import { requestedAcrOfParams } from '../../issuer/acr.js';
import type { StepUpReason } from '../../issuer/interaction-policy.js';
import { acrSatisfies } from '../../mfa/assurance.js';
import type { FactorRecord } from '../../mfa/credentials.js';
import { mayEnrol } from '../../mfa/enrolment-gate.js';
import type { FactorSubject } from '../../mfa/factor.js';
import type { RiskLevel } from '../../risk/types.js';
import type { FederatedSession } from '../../session/federated-session.js';
import { csrfToken } from '../csrf.js';
import { HttpError } from '../errors.js';
import { finishInteraction, loadInteraction, viewOf, type LoadedInteraction } from './interaction-details.js';

/** Why the factor page is shown, and the risk level it was asked at (the enrolment gate reads it). */
export interface StepUpCause {
  reason: StepUpReason;
  level: RiskLevel | undefined;
}

/**
 * A step-up the sign-in of this interaction needs before its authorization may go on, stored in the interaction's result
 * next to the login it holds back: the session that sign-in created, and why.
 */
export interface SignInStepUp {
  sessionId: string;
  reason: StepUpReason;
  level: RiskLevel;
}

/** The step-up this interaction's sign-in is waiting on, with the login it holds back; undefined for any other interaction. */
export function signInStepUpOf(details: LoadedInteraction): { accountId: string; stepUp: SignInStepUp } | undefined {
  const result = details.result as { login?: { accountId?: unknown }; stepUp?: SignInStepUp } | undefined;
  if (details.prompt.name !== 'login' || !result?.stepUp || typeof result.login?.accountId !== 'string') return undefined;
  return { accountId: result.login.accountId, stepUp: result.stepUp };
}

/** True when this interaction asks for a second factor: its mfa prompt, or a sign-in waiting on one. */
export function awaitsSecondFactor(details: LoadedInteraction): boolean {
  return details.prompt.name === 'mfa' || signInStepUpOf(details) !== undefined;
}

function causeOf(details: LoadedInteraction): StepUpCause {
  const signIn = signInStepUpOf(details);
  if (signIn) return { reason: signIn.stepUp.reason, level: signIn.stepUp.level };
  const prompt = details.prompt.details as { reason?: StepUpReason; level?: RiskLevel };
  return { reason: prompt.reason ?? 'acr_requested', level: prompt.level };
}

export function subjectOf(session: FederatedSession, uid: string): FactorSubject {
  const displayName = session.identity.email ?? session.identity.subject;
  return { accountId: session.accountId, interactionId: uid, displayName };
}

/**
 * The interaction this browser holds (`loaded` when the caller read it already), waiting on a second factor, with this
 * browser's own session of that account: for a sign-in's step-up, the very session that sign-in created. `factors`:
 * that account's factors (CredentialRepository.records), being read meanwhile, for the caller that needs them.
 */
export async function stepUpContext(broker: BrokerContext, ctx: Context, loaded?: LoadedInteraction) {
  // The browser's session and its account's factor index are read while the interaction is (one store round trip); the
  // session must then be of the interaction's account, and so are the factors (the cookie names that session's account).
  const accountId = readSessionCookie(ctx)?.accountId;
  const factors = accountId === undefined ? undefined : broker.mfa.credentials.records(accountId);
  // Awaited by the caller that needs the factors; a request refused before that must not leave the read's failure unobserved.
  factors?.catch(() => undefined);
  const [details, browserSession] = await Promise.all([loaded ?? loadInteraction(broker, ctx), browserFederatedSession(broker, ctx)]);
  const signIn = signInStepUpOf(details);
  if (details.prompt.name !== 'mfa' && !signIn) throw new HttpError(400, 'interaction_expired', 'no step-up pending for this interaction');
  const session = stepUpSession(browserSession, signIn ? signIn.accountId : details.session?.accountId);
  if (signIn && session.id !== signIn.stepUp.sessionId) throw new HttpError(400, 'interaction_expired', 'the browser holds another session than the sign-in of this interaction');
  if (!factors || accountId !== session.accountId) throw new HttpError(400, 'interaction_expired', 'the session cookie names another account');
  return { details, session, factors, view: viewOf(broker, details), subject: subjectOf(session, details.uid), withSignIn: signIn !== undefined };
}

/** Audits an answer on the factor or enrolment pages. */
export function auditFactor(broker: BrokerContext, ctx: Context, event: 'mfa.verified' | 'mfa.enrolled', session: FederatedSession, clientId: string, outcome: 'success' | 'failure', kind: string, reason?: string) {
  broker.auditor.record({ event, outcome, accountId: session.accountId, clientId, connectorId: session.connectorId, ip: ctx.ip, requestId: ctx.state.requestId, ...(reason ? { reason } : {}), details: { kind } });
}

/**
 * The factor page: the account's factors (`records` when the caller read them already), or (with none) the enrolment
 * page when the gate allows it, else a refusal.
 */
export async function showStepUp(broker: BrokerContext, ctx: Context, details: LoadedInteraction, session: FederatedSession, options: { error?: string; status?: number; records?: Promise<readonly FactorRecord[]> | readonly FactorRecord[] } = {}): Promise<void> {
  const { mfa } = broker;
  const { error, status = 200 } = options;
  const view = viewOf(broker, details);
  const { reason, level } = causeOf(details);
  const factors = await (options.records ?? mfa.credentials.records(session.accountId));
  const csrf = csrfToken(broker.config.cookieKeys[0]!, details.uid);
  // The language switch of a sign-in's factor page comes back to the factor page (its interaction still asks for a login).
  ctx.state.langPath = `/interaction/${details.uid}`;
  if (factors.length > 0) {
    const subject = subjectOf(session, details.uid);
    const webauthnOptions = factors.some((f) => f.kind === 'webauthn') ? JSON.stringify(await mfa.webauthn.startVerification(subject)) : undefined;
    broker.renderer.render(
      ctx,
      'mfa',
      { uid: details.uid, csrf, clientName: view.clientName, reason, error, hasTotp: factors.some((f) => f.kind === 'totp'), hasRecovery: factors.some((f) => f.kind === 'recovery'), webauthnOptions },
      status,
    );
    return;
  }
  const gate = mayEnrol({ riskLevel: level ?? session.risk?.level, upstreamMfa: session.risk?.upstreamMfa ?? false, hasFactors: false, now: broker.now(), freshForMs: mfa.freshForMs, ...(session.assurance?.mfaAt ? { factorVerifiedAt: session.assurance.mfaAt } : {}) });
  if (!gate.allowed) {
    auditFactor(broker, ctx, 'mfa.enrolled', session, view.clientId, 'failure', 'any', gate.reason);
    throw new HttpError(403, 'mfa_enrolment_refused', `enrolment refused for ${session.accountId}: ${gate.reason}`);
  }
  const subject = subjectOf(session, details.uid);
  const [start, creation] = await Promise.all([mfa.totp.startEnrolment(subject), mfa.webauthn.startEnrolment(subject)]);
  broker.renderer.render(
    ctx,
    'mfa-enrol',
    {
      uid: details.uid,
      csrf,
      clientName: view.clientName,
      reason,
      error,
      secret: start.secret,
      qrDataUri: `data:image/svg+xml;base64,${Buffer.from(start.qrSvg).toString('base64')}`,
      webauthnOptions: JSON.stringify(creation),
    },
    status,
  );
}

/**
 * The step-up a sign-in needs before its authorization goes on, as the interaction policy would judge it right after
 * the sign-in (authorization-check.ts): the sign-in decision's own (client policy, risk, lockout), or an acr the request asks for.
 */
function signInStepUp(pending: PendingLogin, params: Record<string, unknown>): SignInStepUp | undefined {
  const level = pending.riskLevel ?? 'low';
  if (pending.stepUpReason) return { sessionId: pending.sessionId, reason: pending.stepUpReason, level };
  const wanted = requestedAcrOfParams(params);
  if (wanted && !acrSatisfies(pending.acr, wanted)) return { sessionId: pending.sessionId, reason: 'acr_requested', level };
  return undefined;
}

/**
 * Finishes the sign-in of this interaction. With no second factor due, the browser goes on to the authorization. With
 * one due, the login waits in the interaction's result and this response is the factor page (or the first enrolment):
 * a verified factor then finishes the interaction with the raised acr. Resuming the authorization without one still
 * meets the interaction policy's mfa prompt.
 */
export async function finishSignIn(broker: BrokerContext, ctx: Context, details: LoadedInteraction, pending: PendingLogin): Promise<void> {
  const login = { accountId: pending.accountId, acr: pending.acr, amr: pending.amr, ts: pending.ts };
  const stepUp = signInStepUp(pending, details.params);
  if (!stepUp) return finishInteraction(ctx, details, { login });
  details.result = { login, stepUp };
  // Issued together: one store round trip for the interaction, the session this sign-in just created and the factor index.
  const [, session, records] = await Promise.all([details.save(details.exp - Math.floor(Date.now() / 1000)), broker.sessions.get(pending.accountId, pending.sessionId), broker.mfa.credentials.records(pending.accountId)]);
  if (!session) throw new HttpError(400, 'interaction_expired', 'the federated session has ended');
  await showStepUp(broker, ctx, details, session, { records });
}
