// The decision, a pure function: score -> level by thresholds, then lock, access policy, level and acr requirements -> allow, step-up or deny.
import type { Thresholds } from '../config/risk.js';
import { ACR_MFA, ACR_PASSWORD, ACR_PHISHING_RESISTANT, acrRank, acrSatisfies } from '../mfa/assurance.js';
import type { PolicyOutcome } from './access-policy.js';
import type { DenyReason, LockoutState, RiskDecision, RiskLevel, StepUpCause } from './types.js';

/** At or above `high` is high, at or above `medium` is medium, anything lower is low. */
export function levelOf(score: number, thresholds: Thresholds): RiskLevel {
  if (score >= thresholds.high) return 'high';
  if (score >= thresholds.medium) return 'medium';
  return 'low';
}

export interface DecisionInput {
  level: RiskLevel;
  lock: LockoutState;
  policy: PolicyOutcome;
  /** The client's own minimum (clients[].risk.minAcr). */
  clientMinAcr?: string;
  /** The broker acr the request asked for. */
  requestedAcr?: string;
  /** The acr the session already has. */
  sessionAcr?: string;
  /** The upstream did MFA: the session counts as urn:vestibule:acr:mfa. */
  upstreamMfa: boolean;
  /** A second factor was verified in this session within risk.stepUpMaxAgeSeconds. */
  mfaFresh: boolean;
}

/** The part of a RiskDecision that the decision makes. */
export type DecisionOutcome = Pick<RiskDecision, 'action' | 'rule' | 'reason' | 'requiredAcr' | 'mfaRequired' | 'stepUpCauses'>;

/** The stronger of two acr values (the broker's order). */
const strongerAcr = (a: string | undefined, b: string): string => (acrRank(a) >= acrRank(b) ? (a as string) : b);

const deny = (rule: string, reason: DenyReason): DecisionOutcome => ({ action: 'deny', rule, reason, mfaRequired: false, stepUpCauses: [] });

/** Order: a lock refuses, then the access policy, then high risk; otherwise every unmet requirement asks for a factor. */
export function decide(input: DecisionInput): DecisionOutcome {
  if (input.lock.locked) return deny(`lock:${input.lock.reason ?? 'locked'}`, input.lock.kind === 'sign-in' ? 'sign_in_locked' : 'account_locked');
  if (!input.policy.allowed) return deny(input.policy.rule ?? 'policy:default_deny', 'access_denied');
  if (input.level === 'high') return deny('score', 'high_risk');

  // Whoever reached this point signed in: at least the password level.
  const base = input.sessionAcr ?? ACR_PASSWORD;
  const achieved = input.upstreamMfa ? strongerAcr(base, ACR_MFA) : base;
  const secondFactorDone = input.mfaFresh || input.upstreamMfa;
  const causes: { cause: StepUpCause; rule: string; acr: string }[] = [];
  if (input.policy.minAcr && !acrSatisfies(achieved, input.policy.minAcr)) causes.push({ cause: 'client_policy', rule: input.policy.rule as string, acr: input.policy.minAcr });
  if (input.clientMinAcr && !acrSatisfies(achieved, input.clientMinAcr)) causes.push({ cause: 'client_policy', rule: 'client:minAcr', acr: input.clientMinAcr });
  if (input.requestedAcr && !acrSatisfies(achieved, input.requestedAcr) && acrSatisfies(ACR_PHISHING_RESISTANT, input.requestedAcr)) {
    causes.push({ cause: 'acr_values', rule: 'acr_values', acr: input.requestedAcr });
  }
  if (input.level === 'medium' && !secondFactorDone) causes.push({ cause: 'risk', rule: 'score', acr: ACR_MFA });
  if (input.lock.stepUp && !secondFactorDone) causes.push({ cause: 'lockout', rule: 'lockout:familiar_step_up', acr: ACR_MFA });

  if (causes.length === 0) return { action: 'allow', rule: input.policy.rule ?? 'score', mfaRequired: false, stepUpCauses: [] };
  const requiredAcr = causes.reduce<string | undefined>((strongest, { acr }) => strongerAcr(strongest, acr), undefined) as string;
  return {
    action: 'step_up',
    rule: (causes[0] as { rule: string }).rule,
    requiredAcr,
    mfaRequired: true,
    stepUpCauses: [...new Set(causes.map(({ cause }) => cause))],
  };
}
