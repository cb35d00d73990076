// The enrolment gate: low risk, an upstream MFA or a recently verified factor let a user enrol; medium and high risk never do.
import { describe, expect, it } from 'vitest';
import { mayEnrol, type EnrolmentGateInput } from '../../src/mfa/enrolment-gate.js';

const NOW = 1_000_000_000;
const FRESH = 300_000;
const base: EnrolmentGateInput = { riskLevel: 'low', upstreamMfa: false, hasFactors: false, now: NOW, freshForMs: FRESH };

describe('mayEnrol', () => {
  it.each<[string, Partial<EnrolmentGateInput>, ReturnType<typeof mayEnrol>]>([
    ['low risk, first factor', {}, { allowed: true, basis: 'low_risk' }],
    ['low risk, upstream MFA', { upstreamMfa: true }, { allowed: true, basis: 'upstream_mfa' }],
    ['low risk, has factors, none verified', { hasFactors: true }, { allowed: false, reason: 'existing_factor_required' }],
    ['low risk, has factors, one verified now', { hasFactors: true, factorVerifiedAt: NOW }, { allowed: true, basis: 'existing_factor' }],
    ['low risk, has factors, verified exactly freshForMs ago', { hasFactors: true, factorVerifiedAt: NOW - FRESH }, { allowed: true, basis: 'existing_factor' }],
    ['low risk, has factors, verified 1 ms too long ago', { hasFactors: true, factorVerifiedAt: NOW - FRESH - 1 }, { allowed: false, reason: 'existing_factor_required' }],
    ['low risk, has factors, verification in the future (clock skew)', { hasFactors: true, factorVerifiedAt: NOW + 1 }, { allowed: false, reason: 'existing_factor_required' }],
    ['low risk, has factors, upstream MFA', { hasFactors: true, upstreamMfa: true }, { allowed: true, basis: 'upstream_mfa' }],
    ['medium risk', { riskLevel: 'medium' }, { allowed: false, reason: 'risk_medium' }],
    ['medium risk with upstream MFA', { riskLevel: 'medium', upstreamMfa: true }, { allowed: false, reason: 'risk_medium' }],
    ['medium risk with a factor verified now', { riskLevel: 'medium', hasFactors: true, factorVerifiedAt: NOW }, { allowed: false, reason: 'risk_medium' }],
    ['high risk', { riskLevel: 'high' }, { allowed: false, reason: 'risk_high' }],
    ['high risk with everything else', { riskLevel: 'high', upstreamMfa: true, hasFactors: true, factorVerifiedAt: NOW }, { allowed: false, reason: 'risk_high' }],
    ['no risk evaluated', { riskLevel: undefined, upstreamMfa: true }, { allowed: false, reason: 'risk_unknown' }],
  ])('%s', (_name, change, expected) => {
    expect(mayEnrol({ ...base, ...change })).toEqual(expected);
  });
});
