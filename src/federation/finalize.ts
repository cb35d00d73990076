// The one place that turns an upstream Identity into this browser's broker session: account id, risk decision (before any session exists), session record (one per browser), vault, cookies and audit.
import type { Context } from 'koa';
import type { Identity } from '../connectors/connector.js';
import { accountIdFor } from '../connectors/claims.js';
import type { BrokerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { acrFor, acrSatisfies, mergeAmr } from '../mfa/assurance.js';
import { issueDeviceCookie } from '../risk/device-cookie.js';
import type { DenyReason, RiskDecision } from '../risk/types.js';
import { newSessionId, type SessionAssurance, type SessionRisk } from '../session/federated-session.js';
import { brokerClaims } from '../session/account-claims.js';
import { stepUpReason } from './authorization-check.js';
import { deviceCookieSettings, requestFacts } from './risk-facts.js';
import { readSessionCookie, setSessionCookie } from './session-cookie.js';
import type { PendingLogin } from './transactions.js';

export interface FinalizeRequest {
  clientId: string;
  /** The scopes the authorization asks for (the access policy's destinations), when known. */
  scopes?: readonly string[];
}

/** The user-facing error code of a refused sign-in (views/i18n errors). */
export const DENY_CODES: Record<DenyReason, string> = {
  high_risk: 'risk_high',
  access_denied: 'access_refused',
  account_locked: 'account_locked',
  sign_in_locked: 'account_locked_unfamiliar',
};

/**
 * The id of the session this login creates. A browser holds at most one federated session: signing in again as the
 * same account replaces the session in place (same id, so the grants it issued stay with it and end with it);
 * signing in as another account ends the browser's previous session first (its tokens die with it).
 */
async function sessionIdFor(broker: BrokerContext, ctx: Context, accountId: string): Promise<{ id: string; replacesInPlace: boolean }> {
  const pointer = readSessionCookie(ctx);
  const previous = pointer ? await broker.sessions.get(pointer.accountId, pointer.sessionId) : undefined;
  if (previous?.accountId === accountId) return { id: previous.id, replacesInPlace: true };
  if (previous) await broker.terminate(previous, 'replaced', { ip: ctx.ip, requestId: ctx.state.requestId });
  return { id: newSessionId(), replacesInPlace: false };
}

/**
 * Scores the sign-in before any session exists. A refusal (a lock, the client's access policy, high risk: the engine
 * has then ended the account's sessions and locked it) is audited with its reason and shown as a safe message.
 */
async function decideSignIn(broker: BrokerContext, ctx: Context, identity: Identity, accountId: string, request: FinalizeRequest, now: number): Promise<RiskDecision> {
  const decision = await broker.risk.evaluate({
    phase: 'sign-in',
    clientId: request.clientId,
    accountId,
    connectorId: identity.connectorId,
    ...requestFacts(broker, ctx),
    ...(identity.acr ? { upstreamAcr: identity.acr } : {}),
    upstreamAmr: identity.amr,
    groups: identity.groups,
    ...(request.scopes ? { scopes: request.scopes } : {}),
    now,
  });
  if (decision.action !== 'deny') return decision;
  const reason = decision.reason ?? 'access_denied';
  broker.auditor.record({ event: 'login.failure', outcome: 'failure', reason, accountId, clientId: request.clientId, connectorId: identity.connectorId, ip: ctx.ip, requestId: ctx.state.requestId, details: { rule: decision.rule } });
  throw new HttpError(403, DENY_CODES[reason], `sign-in of ${accountId} refused: ${reason} (${decision.rule})`);
}

/** What the sign-in proved: the upstream's methods plus its mapped ones; an upstream MFA is a second factor satisfied now. */
function signInAssurance(identity: Identity, decision: RiskDecision, now: number): SessionAssurance {
  const amr = mergeAmr(identity.amr, decision.upstreamAmr, decision.upstreamMfa ? ['mfa'] : []);
  return { acr: acrFor({ amr }), amr, authTime: identity.authTime ?? Math.floor(now / 1000), ...(decision.upstreamMfa ? { mfaAt: now } : {}) };
}

function sessionRisk(decision: RiskDecision, now: number): SessionRisk {
  return {
    level: decision.level,
    at: now,
    score: decision.score,
    signals: decision.signals.map(({ signal, weight }) => `${signal}${weight >= 0 ? '+' : ''}${weight}`),
    upstreamMfa: decision.upstreamMfa,
    ...(decision.action === 'step_up' && decision.requiredAcr ? { requiredAcr: decision.requiredAcr, stepUpReason: stepUpReason(decision.stepUpCauses) } : {}),
  };
}

export async function finalizeLogin(broker: BrokerContext, ctx: Context, identity: Identity, request: FinalizeRequest): Promise<PendingLogin> {
  const now = broker.now();
  const accountId = accountIdFor(identity.connectorId, identity.subject);
  const decision = await decideSignIn(broker, ctx, identity, accountId, request, now);
  if (decision.device.issue) issueDeviceCookie(ctx, decision.device.id, deviceCookieSettings(broker));
  const { id: sessionId, replacesInPlace } = await sessionIdFor(broker, ctx, accountId);
  const { upstreamTokens, ...storedIdentity } = identity;
  const assurance = signInAssurance(identity, decision, now);
  await broker.sessions.save(
    { id: sessionId, accountId, connectorId: identity.connectorId, identity: storedIdentity, createdAt: now, lastVerifiedAt: now, assurance, risk: sessionRisk(decision, now) },
    { accountId, connectorId: identity.connectorId, claims: brokerClaims(identity), updatedAt: now },
  );
  // A sign-in that needs no second factor passed: its device is remembered now (after a step-up otherwise).
  if (decision.action === 'allow') await broker.risk.recordSuccessfulSignIn({ accountId, deviceId: decision.device.id, ip: ctx.ip, now, ...(ctx.get('user-agent') ? { userAgent: ctx.get('user-agent').slice(0, 512) } : {}) });
  // A replaced session's upstream tokens are superseded by this login's (or dropped when it brought none).
  if (upstreamTokens) await broker.vault.save(sessionId, identity.connectorId, upstreamTokens);
  else if (replacesInPlace) await broker.vault.delete(sessionId);
  setSessionCookie(ctx, { accountId, sessionId }, broker.config.tokens.sessionTtl * 1000);
  broker.auditor.record({
    event: 'login.success',
    outcome: 'success',
    accountId,
    clientId: request.clientId,
    connectorId: identity.connectorId,
    ip: ctx.ip,
    requestId: ctx.state.requestId,
    details: { sessionId, risk: decision.level, action: decision.action },
  });
  return {
    accountId,
    acr: assurance.acr,
    amr: assurance.amr,
    ts: assurance.authTime,
    sessionId,
    riskLevel: decision.level,
    // What the authorization's interaction policy would ask of this session right after the sign-in (authorization-check.ts).
    ...(decision.action === 'step_up' && decision.requiredAcr && !acrSatisfies(assurance.acr, decision.requiredAcr) ? { stepUpReason: stepUpReason(decision.stepUpCauses) } : {}),
  };
}
