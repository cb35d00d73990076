// Finishes a step-up: the verified factor joins the browser's session (amr, acr, when), the interaction resumes with the raised acr/amr and the original auth_time.
import type { Context } from 'koa';
import type { BrokerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { acrFor, ACR_MFA, ACR_PHISHING_RESISTANT, mergeAmr } from '../mfa/assurance.js';
import type { FactorSuccess } from '../mfa/factor.js';
import type { FederatedSession, SessionAssurance } from '../session/federated-session.js';
import { requestFacts } from './risk-facts.js';
import { readSessionCookie } from './session-cookie.js';

/**
 * The browser's own live federated session for the account the interaction is about. A step-up proves a factor for
 * this session only: another browser's session, or a pointer to another account, is refused.
 */
export async function stepUpSession(broker: BrokerContext, ctx: Context, accountId: string | undefined): Promise<FederatedSession> {
  const pointer = readSessionCookie(ctx);
  if (!accountId || !pointer || pointer.accountId !== accountId) throw new HttpError(400, 'interaction_expired', 'no federated session of this account in this browser');
  const [session, live] = await Promise.all([broker.sessions.get(accountId, pointer.sessionId), broker.sessions.sessionsOf(accountId, broker.now())]);
  if (!session || !live.includes(session.id)) throw new HttpError(400, 'interaction_expired', 'the federated session has ended');
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
 * Records the verified factor on the session, audits it and resumes oidc-provider with the raised acr/amr. The sign-in
 * has now passed: this browser's device is remembered for the account (and its origin's failed sign-ins forgotten).
 */
export async function finishStepUp(broker: BrokerContext, ctx: Context, session: FederatedSession, factor: FactorSuccess, clientId: string): Promise<void> {
  const now = broker.now();
  const assurance = raisedAssurance(session, factor, now);
  if (!(await broker.sessions.raiseAssurance(session, assurance))) throw new HttpError(400, 'interaction_expired', 'the federated session has ended');
  const { deviceId, userAgent } = requestFacts(broker, ctx);
  if (deviceId) await broker.risk.recordSuccessfulSignIn({ accountId: session.accountId, deviceId, ip: ctx.ip, now, ...(userAgent ? { userAgent } : {}) });
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
  await broker.provider.interactionFinished(
    ctx.req,
    ctx.res,
    { login: { accountId: session.accountId, acr: assurance.acr, amr: assurance.amr, ts: assurance.authTime }, mfa: { sessionId: session.id, at: assurance.mfaAt } },
    { mergeWithLastSubmission: false },
  );
}
