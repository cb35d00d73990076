// Who may enrol a second factor now (pure): after a low-risk sign-in, an upstream MFA, or an existing factor; never at medium or high risk.

export type RiskLevel = 'low' | 'medium' | 'high';

export interface EnrolmentGateInput {
  /** The risk level of this sign-in; undefined when none was evaluated (treated as not low). */
  riskLevel: RiskLevel | undefined;
  /** The upstream did MFA in this sign-in (its mapped amr shows two factors, or `mfa`). */
  upstreamMfa: boolean;
  /** The account already holds second factors (recovery codes included). */
  hasFactors: boolean;
  /** When one of the account's existing factors was last verified in this session (ms since epoch). */
  factorVerifiedAt?: number;
  now: number;
  /** How long a factor verification lets the user enrol another one. */
  freshForMs: number;
}

export type EnrolmentGateDecision =
  | { allowed: true; basis: 'low_risk' | 'upstream_mfa' | 'existing_factor' }
  | { allowed: false; reason: 'risk_medium' | 'risk_high' | 'risk_unknown' | 'existing_factor_required' };

/**
 * Enrolment must not be an attacker's shortcut: with only a stolen password, a risky sign-in cannot add the attacker's
 * authenticator. Medium and high risk refuse, whatever else holds. An account that has factors adds another only after
 * proving one of them recently (or an upstream MFA); an account without factors enrols after a low-risk sign-in.
 */
export function mayEnrol(input: EnrolmentGateInput): EnrolmentGateDecision {
  if (input.riskLevel === 'high') return { allowed: false, reason: 'risk_high' };
  if (input.riskLevel === 'medium') return { allowed: false, reason: 'risk_medium' };
  if (input.riskLevel !== 'low') return { allowed: false, reason: 'risk_unknown' };
  const verifiedRecently = input.factorVerifiedAt !== undefined && input.factorVerifiedAt <= input.now && input.now - input.factorVerifiedAt <= input.freshForMs;
  if (verifiedRecently) return { allowed: true, basis: 'existing_factor' };
  if (input.upstreamMfa) return { allowed: true, basis: 'upstream_mfa' };
  if (input.hasFactors) return { allowed: false, reason: 'existing_factor_required' };
  return { allowed: true, basis: 'low_risk' };
}
