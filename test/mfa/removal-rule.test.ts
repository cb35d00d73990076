// The factor-removal rule (pure): which clients require MFA of a provider's users, and what removing one factor may take with it.
import { describe, expect, it } from 'vitest';
import { ACR_MFA, ACR_PASSWORD, ACR_PHISHING_RESISTANT } from '../../src/mfa/assurance.js';
import { clientsRequiringMfa, decideRemoval, type ClientMfaSettings } from '../../src/mfa/removal-rule.js';

const totp = { id: 't1', kind: 'totp' as const };
const passkey = { id: 'p1', kind: 'webauthn' as const };
const codes = { id: 'r1', kind: 'recovery' as const };
const allowRule = (minAcr: typeof ACR_MFA | undefined, providers?: string[]) => ({
  name: 'r',
  action: 'allow' as const,
  source: providers ? { providers } : {},
  destination: {},
  ...(minAcr ? { minAcr } : {}),
});

describe('clientsRequiringMfa', () => {
  it.each<[string, ClientMfaSettings, string[]]>([
    ['minAcr mfa', { clientId: 'a', name: 'App A', risk: { minAcr: ACR_MFA } }, ['App A']],
    ['minAcr phishing-resistant (stronger counts)', { clientId: 'b', risk: { minAcr: ACR_PHISHING_RESISTANT } }, ['b']],
    ['minAcr password', { clientId: 'c', risk: { minAcr: ACR_PASSWORD } }, []],
    ['no risk settings', { clientId: 'd' }, []],
    ['another provider only', { clientId: 'e', allowedProviders: ['saml'], risk: { minAcr: ACR_MFA } }, []],
    ['this provider allowed', { clientId: 'f', allowedProviders: ['local'], risk: { minAcr: ACR_MFA } }, ['f']],
    ['an allow rule with minAcr mfa', { clientId: 'g', risk: { accessPolicy: { rules: [allowRule(ACR_MFA)] } } }, ['g']],
    ['an allow rule for another provider', { clientId: 'h', risk: { accessPolicy: { rules: [allowRule(ACR_MFA, ['saml'])] } } }, []],
    ['an allow rule without minAcr', { clientId: 'i', risk: { accessPolicy: { rules: [allowRule(undefined)] } } }, []],
  ])('%s', (_name, client, expected) => {
    expect(clientsRequiringMfa([client], 'local')).toEqual(expected);
  });
});

describe('decideRemoval', () => {
  it('removes one of two authenticators alone, recovery codes kept', () => {
    expect(decideRemoval([totp, passkey, codes], 't1', ['Payroll'])).toEqual({ allowed: true, remove: ['t1'], lastAuthenticator: false });
  });
  it('refuses the last authenticator while a client requires MFA, naming it', () => {
    expect(decideRemoval([totp, codes], 't1', ['Payroll'])).toEqual({ allowed: false, reason: 'required_by_client', clients: ['Payroll'] });
  });
  it('removes the last authenticator with the recovery codes when no client requires MFA', () => {
    expect(decideRemoval([totp, codes], 't1', [])).toEqual({ allowed: true, remove: ['t1', 'r1'], lastAuthenticator: true });
  });
  it('never removes recovery codes on their own, nor an unknown factor', () => {
    expect(decideRemoval([totp, codes], 'r1', [])).toEqual({ allowed: false, reason: 'recovery_not_removable' });
    expect(decideRemoval([totp, codes], 'other-account-factor', [])).toEqual({ allowed: false, reason: 'no_such_factor' });
  });
});
