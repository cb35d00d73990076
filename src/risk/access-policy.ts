// A client's access policy in source / destination / action style: the first rule whose source and destination match decides; once declared, no match is a denial.
import type { AccessRule, ClientRiskConfig } from '../config/risk.js';
import { cidrMatcher, type CidrMatcher } from './signals/network.js';

/** What the rules look at, already computed by the signals. */
export interface AccessFacts {
  connectorId: string;
  groups: readonly string[];
  ip: string;
  /** The address is in risk.networks.trusted. */
  trustedNetwork: boolean;
  /** undefined when risk.workingHours is not configured (then every time counts as working hours). */
  insideWorkingHours: boolean | undefined;
  /** The believed device-posture score, if any. */
  posture: number | undefined;
  scopes: readonly string[];
}

export interface PolicyOutcome {
  allowed: boolean;
  /** "policy:<rule name>", "policy:default_deny", or undefined when the client declares no policy. */
  rule: string | undefined;
  /** The acr the matching allow rule needs. */
  minAcr?: string;
}

export type AccessPolicy = (facts: AccessFacts) => PolicyOutcome;

const NO_POLICY: PolicyOutcome = { allowed: true, rule: undefined };
const DEFAULT_DENY: PolicyOutcome = { allowed: false, rule: 'policy:default_deny' };

function ruleMatcher(rule: AccessRule): (facts: AccessFacts) => boolean {
  const { providers, groups, networks, workingHours, minPosture } = rule.source;
  const cidrs: CidrMatcher | undefined = Array.isArray(networks) ? cidrMatcher(networks) : undefined;
  const scopes = rule.destination.scopes;
  return (facts) =>
    (!providers || providers.includes(facts.connectorId)) &&
    (!groups || groups.some((group) => facts.groups.includes(group))) &&
    (networks === undefined || (networks === 'trusted' ? facts.trustedNetwork : (cidrs as CidrMatcher).has(facts.ip))) &&
    (workingHours === undefined || (facts.insideWorkingHours ?? true) === workingHours) &&
    (minPosture === undefined || (facts.posture !== undefined && facts.posture >= minPosture)) &&
    (!scopes || scopes.some((scope) => facts.scopes.includes(scope)));
}

/** Compiles a client's policy once (CIDR lists included); no policy allows everything. */
export function compileAccessPolicy(policy: ClientRiskConfig['accessPolicy']): AccessPolicy {
  if (!policy) return () => NO_POLICY;
  const rules = policy.rules.map((rule) => ({ rule, matches: ruleMatcher(rule) }));
  return (facts) => {
    for (const { rule, matches } of rules) {
      if (!matches(facts)) continue;
      const outcome: PolicyOutcome = { allowed: rule.action === 'allow', rule: `policy:${rule.name}` };
      if (rule.action === 'allow' && rule.minAcr) outcome.minAcr = rule.minAcr;
      return outcome;
    }
    return DEFAULT_DENY;
  };
}
