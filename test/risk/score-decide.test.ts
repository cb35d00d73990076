// Scoring and the decision, table-driven: every signal's weight, every threshold edge, and every way a request is allowed, stepped up or refused.
import { describe, expect, it } from 'vitest';
import { DEFAULT_WEIGHTS, SIGNAL_NAMES, type SignalName } from '../../src/config/risk.js';
import { ACR_MFA, ACR_PASSWORD, ACR_PHISHING_RESISTANT } from '../../src/mfa/assurance.js';
import type { PolicyOutcome } from '../../src/risk/access-policy.js';
import { decide, levelOf, type DecisionInput } from '../../src/risk/decide.js';
import { mergeWeights, scoreSignals } from '../../src/risk/score.js';

const THRESHOLDS = { medium: 50, high: 80 };

describe('scoreSignals', () => {
  it.each(SIGNAL_NAMES.map((signal) => [signal, DEFAULT_WEIGHTS[signal]] as const))('%s alone scores its default weight %i (clamped to 0-100)', (signal, weight) => {
    const { score, signals } = scoreSignals([{ signal, detail: 'fact' }], DEFAULT_WEIGHTS);
    expect(score).toBe(Math.max(0, Math.min(100, weight)));
    expect(signals).toEqual([{ signal, weight, detail: 'fact' }]);
  });

  it.each<[string, SignalName[], number]>([
    ['nothing', [], 0],
    ['untrusted network + new device + off hours', ['network.untrusted', 'device.new', 'time.off_hours'], 60],
    ['untrusted network + new device', ['network.untrusted', 'device.new'], 40],
    ['blocked network + reputation (clamped at 100)', ['network.blocked', 'network.reputation'], 100],
    ['upstream MFA alone (clamped at 0)', ['upstream.mfa'], 0],
    ['upstream MFA takes 20 off a new device + off hours', ['device.new', 'time.off_hours', 'upstream.mfa'], 20],
    ['impossible travel + new device', ['geo.impossible_travel', 'device.new'], 80],
    ['both velocities', ['velocity.account', 'velocity.ip'], 50],
    ['low posture + user agent changed', ['posture.low', 'device.user_agent_changed'], 45],
  ])('%s scores %i', (_name, fired, expected) => {
    expect(scoreSignals(fired.map((signal) => ({ signal })), DEFAULT_WEIGHTS).score).toBe(expected);
  });

  it('a signal weighted 0 is switched off: no points and not listed', () => {
    const weights = mergeWeights({ 'device.new': 0 });
    expect(scoreSignals([{ signal: 'device.new' }, { signal: 'time.off_hours' }], weights)).toEqual({ score: 20, signals: [{ signal: 'time.off_hours', weight: 20 }] });
  });

  it('mergeWeights: defaults, then each override in turn; a signal an override leaves out keeps the weight before it', () => {
    const merged = mergeWeights({ 'device.new': 30, 'time.off_hours': 5 }, { 'device.new': 40, 'time.off_hours': undefined });
    expect(merged['device.new']).toBe(40);
    expect(merged['time.off_hours']).toBe(5);
    expect(merged['network.blocked']).toBe(DEFAULT_WEIGHTS['network.blocked']);
  });
});

describe('levelOf', () => {
  it.each<[number, string]>([
    [0, 'low'],
    [49, 'low'],
    [50, 'medium'],
    [79, 'medium'],
    [80, 'high'],
    [100, 'high'],
  ])('score %i is %s (medium at 50, high at 80)', (score, level) => {
    expect(levelOf(score, THRESHOLDS)).toBe(level);
  });

  it('per-client thresholds move the edges', () => {
    expect(levelOf(20, { medium: 20, high: 21 })).toBe('medium');
    expect(levelOf(21, { medium: 20, high: 21 })).toBe('high');
    expect(levelOf(19, { medium: 20, high: 21 })).toBe('low');
  });
});

const OPEN: PolicyOutcome = { allowed: true, rule: undefined };
const base: DecisionInput = { level: 'low', lock: { locked: false, stepUp: false }, policy: OPEN, upstreamMfa: false, mfaFresh: false };

describe('decide', () => {
  it.each<[string, Partial<DecisionInput>, Record<string, unknown>]>([
    ['low risk, no policy: allowed', {}, { action: 'allow', rule: 'score', mfaRequired: false }],
    ['an account lock refuses (before anything else)', { lock: { locked: true, stepUp: false, kind: 'account', reason: 'admin' }, policy: { allowed: false, rule: 'policy:x' }, level: 'high' }, { action: 'deny', reason: 'account_locked', rule: 'lock:admin' }],
    ['a sign-in lock refuses with its own reason', { lock: { locked: true, stepUp: false, kind: 'sign-in', reason: 'failed_sign_ins' } }, { action: 'deny', reason: 'sign_in_locked', rule: 'lock:failed_sign_ins' }],
    ['the access policy refuses before high risk', { policy: { allowed: false, rule: 'policy:default_deny' }, level: 'high' }, { action: 'deny', reason: 'access_denied', rule: 'policy:default_deny' }],
    ['high risk refuses', { level: 'high' }, { action: 'deny', reason: 'high_risk', rule: 'score' }],
    ['high risk refuses even with a fresh factor and upstream MFA', { level: 'high', mfaFresh: true, upstreamMfa: true }, { action: 'deny', reason: 'high_risk' }],
    ['medium risk steps up to the MFA acr', { level: 'medium' }, { action: 'step_up', requiredAcr: ACR_MFA, stepUpCauses: ['risk'], rule: 'score', mfaRequired: true }],
    ['medium risk with a factor verified recently: allowed', { level: 'medium', mfaFresh: true }, { action: 'allow' }],
    ['medium risk after an upstream that did MFA: allowed', { level: 'medium', upstreamMfa: true }, { action: 'allow' }],
    ['the other origin is locked out: a familiar browser steps up', { lock: { locked: false, stepUp: true, reason: 'failed_sign_ins' } }, { action: 'step_up', stepUpCauses: ['lockout'], rule: 'lockout:familiar_step_up' }],
    ['the other origin is locked out, a factor verified recently: allowed', { lock: { locked: false, stepUp: true }, mfaFresh: true }, { action: 'allow' }],
    ['client minimum acr MFA at low risk: step-up', { clientMinAcr: ACR_MFA }, { action: 'step_up', stepUpCauses: ['client_policy'], rule: 'client:minAcr', requiredAcr: ACR_MFA }],
    ['client minimum acr met by the session', { clientMinAcr: ACR_MFA, sessionAcr: ACR_MFA }, { action: 'allow' }],
    ['client minimum acr met by an upstream that did MFA', { clientMinAcr: ACR_MFA, upstreamMfa: true }, { action: 'allow' }],
    ['client minimum phishing-resistant: upstream MFA is not enough', { clientMinAcr: ACR_PHISHING_RESISTANT, upstreamMfa: true }, { action: 'step_up', requiredAcr: ACR_PHISHING_RESISTANT }],
    ['policy rule minimum acr: step-up named by the rule', { policy: { allowed: true, rule: 'policy:admins', minAcr: ACR_MFA } }, { action: 'step_up', rule: 'policy:admins', stepUpCauses: ['client_policy'] }],
    ['policy allow without minimum: allowed by the rule', { policy: { allowed: true, rule: 'policy:office' } }, { action: 'allow', rule: 'policy:office' }],
    ['acr_values asks for MFA on a password session', { requestedAcr: ACR_MFA, sessionAcr: ACR_PASSWORD }, { action: 'step_up', stepUpCauses: ['acr_values'], requiredAcr: ACR_MFA }],
    ['acr_values asks for the password level: a sign-in has it', { requestedAcr: ACR_PASSWORD }, { action: 'allow' }],
    ['acr_values with a value the broker does not issue is ignored here', { requestedAcr: 'urn:example:other' }, { action: 'allow' }],
    ['acr_values phishing-resistant on an MFA session: step-up to it', { requestedAcr: ACR_PHISHING_RESISTANT, sessionAcr: ACR_MFA }, { action: 'step_up', requiredAcr: ACR_PHISHING_RESISTANT }],
    ['several causes: the strongest acr, every cause listed', { level: 'medium', requestedAcr: ACR_PHISHING_RESISTANT, clientMinAcr: ACR_MFA }, { action: 'step_up', requiredAcr: ACR_PHISHING_RESISTANT, stepUpCauses: ['client_policy', 'acr_values', 'risk'] }],
  ])('%s', (_name, overrides, expected) => {
    expect(decide({ ...base, ...overrides })).toMatchObject(expected);
  });

  it('a denial requires no factor and has no required acr', () => {
    const outcome = decide({ ...base, level: 'high', clientMinAcr: ACR_MFA });
    expect(outcome.mfaRequired).toBe(false);
    expect(outcome.requiredAcr).toBeUndefined();
  });
});
