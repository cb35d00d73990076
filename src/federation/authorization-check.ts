// Judges an authorization that reuses the browser's federated session: the sign-in's own decision right after it, otherwise a fresh risk evaluation (phase "authorization").
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Context } from 'koa';
import type { BrokerContext } from '../context.js';
import { requestedAcr } from '../issuer/acr.js';
import type { AuthorizationJudgement, JudgeAuthorization, StepUpReason } from '../issuer/interaction-policy.js';
import { acrSatisfies } from '../mfa/assurance.js';
import type { RiskDecision, StepUpCause } from '../risk/types.js';
import type { FederatedSession } from '../session/federated-session.js';
import type { StepUpResult } from './step-up.js';
import { requestFacts } from './risk-facts.js';

/** The step-up reason the page explains, from the engine's causes (risk and lockout first: they say why the user is asked). */
export function stepUpReason(causes: readonly StepUpCause[]): StepUpReason {
  if (causes.includes('risk') || causes.includes('lockout')) return 'risk_medium';
  if (causes.includes('client_policy')) return 'client_requires_mfa';
  return 'acr_requested';
}

export function judgementOf(decision: Pick<RiskDecision, 'action' | 'reason' | 'stepUpCauses' | 'level'>): AuthorizationJudgement {
  if (decision.action === 'deny') return { kind: 'deny', reason: decision.reason ?? 'access_denied' };
  if (decision.action === 'step_up') return { kind: 'step_up', reason: stepUpReason(decision.stepUpCauses), level: decision.level };
  return { kind: 'allow' };
}

/**
 * Right after a sign-in (this request resumes its login, with or without the step-up that sign-in asked for in the
 * same interaction) the sign-in's decision stands: it asked for the acr recorded on the session, and the request may
 * ask for more. Any other authorization on the session, the one resuming a step-up of its own interaction included
 * (its factor is fresh now), is evaluated again.
 */
export function createAuthorizationJudge(broker: BrokerContext): JudgeAuthorization {
  return async function judgeAuthorization(ctx: KoaContextWithOIDC, session: FederatedSession): Promise<AuthorizationJudgement> {
    const sessionAcr = session.assurance?.acr;
    const wanted = requestedAcr(ctx);
    // An upstream's CAEP event (assurance or device compliance lowered) asks for a second factor newer than the event.
    const demand = await broker.stepUpDemands?.demanded(session.accountId, session.id);
    if (demand && (session.assurance?.mfaAt ?? 0) < demand.at) return { kind: 'step_up', reason: 'upstream_signal', level: session.risk?.level ?? 'medium' };
    const stepUp = ctx.oidc.result?.mfa as StepUpResult | undefined;
    if (ctx.oidc.result?.login && (!stepUp || (stepUp.withSignIn === true && stepUp.sessionId === session.id)) && session.risk) {
      const required = session.risk.requiredAcr;
      const level = session.risk.level;
      if (required && !acrSatisfies(sessionAcr, required)) return { kind: 'step_up', reason: session.risk.stepUpReason ?? 'risk_medium', level };
      if (wanted && !acrSatisfies(sessionAcr, wanted)) return { kind: 'step_up', reason: 'acr_requested', level };
      return { kind: 'allow' };
    }
    const decision = await broker.risk.evaluate({
      phase: 'authorization',
      clientId: ctx.oidc.client!.clientId,
      accountId: session.accountId,
      connectorId: session.connectorId,
      ...requestFacts(broker, ctx as unknown as Context),
      ...(session.identity.acr ? { upstreamAcr: session.identity.acr } : {}),
      upstreamAmr: session.identity.amr,
      groups: session.identity.groups,
      scopes: String(ctx.oidc.params?.scope ?? '').split(' ').filter(Boolean),
      ...(sessionAcr ? { sessionAcr: sessionAcr } : {}),
      ...(wanted ? { requestedAcr: wanted } : {}),
      ...(session.assurance?.mfaAt ? { mfaVerifiedAt: session.assurance.mfaAt } : {}),
    });
    return judgementOf(decision);
  };
}
