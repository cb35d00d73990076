// Finishes a step-up: the verified factor joins the browser's session (amr, acr, when), and the interaction result resumes the authorization with the raised acr/amr and the original auth_time.
import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import type { BrokerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { acrFor, ACR_MFA, ACR_PHISHING_RESISTANT, mergeAmr } from '../mfa/assurance.js';
import type { FactorSuccess } from '../mfa/factor.js';
import type { FederatedSession, SessionAssurance } from '../session/federated-session.js';
import { requestFacts } from './risk-facts.js';
import { readSessionCookie } from './session-cookie.js';

/** What a verified step-up adds to the interaction result (read at the resume by authorization-check.ts). */
export interface StepUpResult {
  sessionId: string;
  at: number;
  /** The factor completed the sign-in of the same interaction (its login was held back until then). */
  withSignIn?: true;
}

/** The live federated session this browser's cookie names; undefined when it names none or that session has ended. */
export async function browserFederatedSession(broker: BrokerContext, ctx: Context): Promise<FederatedSession | undefined> {
  const pointer = readSessionCookie(ctx);
  return pointer ? broker.sessions.liveSession(pointer.accountId, pointer.sessionId, broker.now()) : undefined;
}

/**
 * The browser's own live federated session (`session`, from browserFederatedSession) for the account the interaction
 * is about. A step-up proves a factor for this session only: another browser's session, or one of another account, is refused.
 */
export function stepUpSession(session: FederatedSession | undefined, accountId: string | undefined): FederatedSession {
  if (!accountId || !session || session.accountId !== accountId) throw new HttpError(400, 'interaction_expired', 'no live federated session of this account in this browser');
  return session;
}

/**
 * The session's assurance once `factor` is verified on top of the sign-in: methods merged plus `mfa` (a sign-in and a
 * second factor are two factors), acr mfa, or phishing-resistant for a WebAuthn factor (or one verified before); MFA time now.
 */
export function raisedAssurance(session: FederatedSession, factor: Pick<FactorSuccess, 'amr' | 'phishingResistant'>, now: number): SessionAssurance {
  const before = session.assurance ?? { acr: acrFor({ amr: session.identity.amr }), amr: session.identity.amr, authTime: Math.floor(session.createdAt / 1000) };
  const amr = mergeAmr(before.amr, factor.amr, ['mfa']);
  const acr = factor.phishingResistant || before.acr === ACR_PHISHING_RESISTANT ? ACR_PHISHING_RESISTANT : ACR_MFA;
  return { acr, amr, authTime: before.authTime, mfaAt: now };
}

/**
 * Records the verified factor on the session, audits it, and resumes the authorization through `resume` with the
 * interaction result carrying the raised acr/amr. The sign-in has now passed: this browser's device is remembered for
 * the account (and its origin's failed sign-ins forgotten), alongside the resume; two store round trips in all.
 * `withSignIn`: the factor completes the sign-in of the same interaction, whose risk decision then stands at the resume
 * (authorization-check.ts) as it does for a sign-in without a step-up.
 */
export async function finishStepUp(
  broker: BrokerContext,
  ctx: Context,
  step: { session: FederatedSession; factor: FactorSuccess; clientId: string; withSignIn: boolean },
  resume: (result: InteractionResults) => Promise<void>,
): Promise<void> {
  const { session, factor, clientId } = step;
  const now = broker.now();
  const assurance = raisedAssurance(session, factor, now);
  const { deviceId, userAgent } = requestFacts(broker, ctx);
  // The account's risk record is read while the session is raised (one store round trip); the device is remembered only once it is.
  const [raised, remember] = await Promise.all([
    broker.sessions.raiseAssurance(session, assurance),
    deviceId ? broker.risk.prepareSuccessfulSignIn({ accountId: session.accountId, deviceId, ip: ctx.ip, now, ...(userAgent ? { userAgent } : {}) }) : undefined,
  ]);
  if (!raised) throw new HttpError(400, 'interaction_expired', 'the federated session has ended');
  broker.auditor.record({
    event: 'mfa.verified',
    outcome: 'success',
    accountId: session.accountId,
    clientId,
    connectorId: session.connectorId,
    ip: ctx.ip,
    requestId: ctx.state.requestId,
    details: { kind: factor.kind, acr: assurance.acr, amr: assurance.amr.join(' ') },
  });
  const mfa: StepUpResult = { sessionId: session.id, at: now, ...(step.withSignIn ? { withSignIn: true } : {}) };
  await Promise.all([remember?.(), resume({ login: { accountId: session.accountId, acr: assurance.acr, amr: assurance.amr, ts: assurance.authTime }, mfa })]);
}
