// A client's access policy: the first rule whose source and destination match decides; once declared, anything not allowed is denied.
import { describe, expect, it } from 'vitest';
import { clientRiskSchema } from '../../src/config/risk.js';
import { ACR_MFA } from '../../src/mfa/assurance.js';
import { compileAccessPolicy, type AccessFacts } from '../../src/risk/access-policy.js';

const policy = compileAccessPolicy(
  clientRiskSchema.parse({
    accessPolicy: {
      rules: [
        { name: 'block-contractors-at-night', source: { groups: ['contractors'], workingHours: false }, action: 'deny' },
        { name: 'admins-need-mfa', source: { groups: ['admins'] }, destination: { scopes: ['admin'] }, action: 'allow', minAcr: ACR_MFA },
        { name: 'office', source: { providers: ['corp'], networks: 'trusted' }, action: 'allow' },
        { name: 'managed-laptops', source: { providers: ['corp'], minPosture: 70 }, action: 'allow' },
        { name: 'partner-range', source: { providers: ['partner'], networks: ['198.51.100.0/24'] }, action: 'allow' },
      ],
    },
  }).accessPolicy,
);

const facts: AccessFacts = { connectorId: 'corp', groups: [], ip: '192.0.2.1', trustedNetwork: false, insideWorkingHours: true, posture: undefined, scopes: ['openid'] };

describe('access policy', () => {
  it.each<[string, Partial<AccessFacts>, { allowed: boolean; rule: string; minAcr?: string }]>([
    ['corp user in the office', { trustedNetwork: true }, { allowed: true, rule: 'policy:office' }],
    ['corp user outside, no posture: nothing allows it', {}, { allowed: false, rule: 'policy:default_deny' }],
    ['corp user outside on a managed laptop (posture 70)', { posture: 70 }, { allowed: true, rule: 'policy:managed-laptops' }],
    ['corp user outside, posture 69', { posture: 69 }, { allowed: false, rule: 'policy:default_deny' }],
    ['admin asking for the admin scope: allowed with MFA', { groups: ['admins'], scopes: ['openid', 'admin'] }, { allowed: true, rule: 'policy:admins-need-mfa', minAcr: ACR_MFA }],
    ['admin not asking for it: the next rules decide', { groups: ['admins'], trustedNetwork: true }, { allowed: true, rule: 'policy:office' }],
    ['contractor off hours: denied by its rule (first match wins)', { groups: ['contractors'], insideWorkingHours: false, trustedNetwork: true }, { allowed: false, rule: 'policy:block-contractors-at-night' }],
    ['contractor in hours in the office', { groups: ['contractors'], trustedNetwork: true }, { allowed: true, rule: 'policy:office' }],
    ['partner from its range', { connectorId: 'partner', ip: '198.51.100.20' }, { allowed: true, rule: 'policy:partner-range' }],
    ['partner from elsewhere', { connectorId: 'partner', ip: '203.0.113.5' }, { allowed: false, rule: 'policy:default_deny' }],
    ['another provider in the office: not allowed', { connectorId: 'social', trustedNetwork: true }, { allowed: false, rule: 'policy:default_deny' }],
  ])('%s', (_name, overrides, expected) => {
    expect(policy({ ...facts, ...overrides })).toEqual(expected);
  });

  it('unknown working hours count as inside (risk.workingHours not configured)', () => {
    expect(policy({ ...facts, groups: ['contractors'], insideWorkingHours: undefined, trustedNetwork: true }).rule).toBe('policy:office');
  });

  it('a client without a policy allows everything, naming no rule', () => {
    expect(compileAccessPolicy(undefined)(facts)).toEqual({ allowed: true, rule: undefined });
  });

  it('the configuration refuses a bad CIDR, an unknown acr, an empty rule list and an unknown field', () => {
    expect(clientRiskSchema.safeParse({ accessPolicy: { rules: [{ name: 'x', source: { networks: ['10.0.0.0/33'] }, action: 'allow' }] } }).success).toBe(false);
    expect(clientRiskSchema.safeParse({ accessPolicy: { rules: [{ name: 'x', action: 'allow', minAcr: 'urn:other' }] } }).success).toBe(false);
    expect(clientRiskSchema.safeParse({ accessPolicy: { rules: [] } }).success).toBe(false);
    expect(clientRiskSchema.safeParse({ accessPolicy: { rules: [{ name: 'x', action: 'permit' }] } }).success).toBe(false);
    expect(clientRiskSchema.safeParse({ accessPolicy: { rules: [{ name: 'x', action: 'allow', source: { country: 'DE' } }] } }).success).toBe(false);
  });
});
