// Upstream-assurance signal: the upstream's amr/acr mapped per provider; an upstream that did MFA counts as MFA (and lowers the score).
import type { RiskConfig } from '../../config/risk.js';
import { isRegisteredAmr } from '../../mfa/assurance.js';
import type { SignalHit } from '../types.js';

export const DEFAULT_MFA_AMR: readonly string[] = ['mfa', 'mca', 'otp', 'hwk', 'swk', 'sc', 'sms', 'tel'];
export const DEFAULT_MFA_ACR: readonly string[] = [
  'https://refeds.org/profile/mfa',
  'http://schemas.microsoft.com/claims/multipleauthn',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI',
];

export interface UpstreamAssurance {
  mfa: boolean;
  /** RFC 8176 values for the ID token ("mfa" included when the upstream did MFA). */
  amr: string[];
}

/** Maps what the upstream said: per-provider amrMap when given (amr and acr values both looked up), otherwise registered RFC 8176 values pass. */
export function upstreamAssurance(connectorId: string, acr: string | undefined, amr: readonly string[] | undefined, settings: RiskConfig['upstreamAssurance']): UpstreamAssurance {
  const provider = settings[connectorId];
  const mfaAmr = provider?.mfaAmr ?? DEFAULT_MFA_AMR;
  const mfaAcr = provider?.mfaAcr ?? DEFAULT_MFA_ACR;
  const given = (amr ?? []).slice(0, 32);
  const mapped = new Set<string>();
  for (const value of acr === undefined ? given : [...given, acr]) {
    const targets = provider?.amrMap?.[value] ?? (isRegisteredAmr(value) ? [value] : []);
    for (const target of targets) if (isRegisteredAmr(target)) mapped.add(target);
  }
  const mfa = given.some((value) => mfaAmr.includes(value)) || (acr !== undefined && mfaAcr.includes(acr)) || mapped.has('mfa');
  if (mfa) mapped.add('mfa');
  return { mfa, amr: [...mapped] };
}

export function upstreamSignal(assurance: UpstreamAssurance): SignalHit[] {
  return assurance.mfa ? [{ signal: 'upstream.mfa' }] : [];
}
