// The acr/amr vocabulary: the broker's acr values, their order, RFC 8176 amr values per factor, and merging upstream amr.

/** Password (or another single factor) only. */
export const ACR_PASSWORD = 'urn:vestibule:acr:password';
/** Two factors: the sign-in plus a verified second factor (or an upstream that did MFA). */
export const ACR_MFA = 'urn:vestibule:acr:mfa';
/** Phishing-resistant: a WebAuthn / passkey assertion, bound to the broker's origin. */
export const ACR_PHISHING_RESISTANT = 'urn:vestibule:acr:phr';

/** Every acr the broker issues, weakest first: advertise in discovery (acr_values_supported). */
export const ACR_VALUES = [ACR_PASSWORD, ACR_MFA, ACR_PHISHING_RESISTANT] as const;
export type AcrValue = (typeof ACR_VALUES)[number];

/** The Authentication Method Reference values registered by RFC 8176 section 2. */
export const RFC8176_AMR_VALUES = [
  'face', 'fpt', 'geo', 'hwk', 'iris', 'kba', 'mca', 'mfa', 'otp', 'pin', 'pop', 'pwd', 'rba', 'retina', 'sc', 'sms', 'swk', 'tel', 'user', 'vbm', 'wia',
] as const;
export type AmrValue = (typeof RFC8176_AMR_VALUES)[number];

const REGISTERED = new Set<string>(RFC8176_AMR_VALUES);

/** Which authentication factor category (knowledge, possession, inherence) an amr value proves; presence and context prove none. */
const CATEGORY: Partial<Record<AmrValue, 'know' | 'have' | 'are'>> = {
  pwd: 'know', pin: 'know', kba: 'know',
  otp: 'have', hwk: 'have', swk: 'have', sms: 'have', tel: 'have', sc: 'have', pop: 'have',
  face: 'are', fpt: 'are', iris: 'are', retina: 'are', vbm: 'are',
};

/** Rank of an acr value in ACR_VALUES (higher is stronger); -1 for a value the broker does not issue. */
export function acrRank(acr: string | undefined): number {
  return acr === undefined ? -1 : (ACR_VALUES as readonly string[]).indexOf(acr);
}

/** True when `have` is at least as strong as `want` (an unknown `want` is never satisfied, an unknown `have` satisfies nothing). */
export function acrSatisfies(have: string | undefined, want: string): boolean {
  const wanted = acrRank(want);
  return wanted >= 0 && acrRank(have) >= wanted;
}

/** The weakest broker acr among `requested` (acr_values order does not matter), or undefined when none is the broker's. */
export function weakestKnownAcr(requested: readonly string[]): AcrValue | undefined {
  const known = requested.map(acrRank).filter((rank) => rank >= 0);
  return known.length === 0 ? undefined : ACR_VALUES[Math.min(...known)];
}

/** True for a value RFC 8176 registers. */
export function isRegisteredAmr(value: string): value is AmrValue {
  return REGISTERED.has(value);
}

/**
 * Merges amr lists (the sign-in's, the upstream's mapped values, each verified factor's) into one: registered values only,
 * each once, in first-seen order, and `mfa` added when they prove two different factor categories (or any list says `mfa`).
 */
export function mergeAmr(...lists: readonly (readonly string[] | undefined)[]): AmrValue[] {
  const merged: AmrValue[] = [];
  for (const list of lists) for (const value of list ?? []) if (isRegisteredAmr(value) && !merged.includes(value)) merged.push(value);
  const categories = new Set(merged.map((value) => CATEGORY[value]).filter((category) => category !== undefined));
  if (categories.size >= 2 && !merged.includes('mfa')) merged.push('mfa');
  return merged;
}

/** True when the amr values show multi-factor authentication (an explicit `mfa`, or two factor categories). */
export function amrIsMultiFactor(amr: readonly string[]): boolean {
  return mergeAmr(amr).includes('mfa');
}

/**
 * The acr that truly describes a sign-in: phishing-resistant when a WebAuthn factor was verified in it, MFA when its amr
 * shows two factors (an upstream that did MFA counts), password otherwise.
 */
export function acrFor(input: { amr: readonly string[]; phishingResistant?: boolean }): AcrValue {
  if (input.phishingResistant) return ACR_PHISHING_RESISTANT;
  return amrIsMultiFactor(input.amr) ? ACR_MFA : ACR_PASSWORD;
}
