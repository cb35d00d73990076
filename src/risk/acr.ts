// The broker's acr values (advertised in discovery) and their order: password < mfa < phishing-resistant.

export const ACR = {
  password: 'urn:vestibule:acr:password',
  mfa: 'urn:vestibule:acr:mfa',
  phishingResistant: 'urn:vestibule:acr:phishing-resistant',
} as const;

/** Weakest first: the list to advertise as acr_values_supported. */
export const ACR_VALUES: readonly string[] = [ACR.password, ACR.mfa, ACR.phishingResistant];

/** Position in ACR_VALUES; -1 for a value the broker does not issue. */
export function acrRank(acr: string | undefined): number {
  return acr === undefined ? -1 : ACR_VALUES.indexOf(acr);
}

/** True when `achieved` is at least `required` (an unknown required value is never satisfied). */
export function acrSatisfies(achieved: string | undefined, required: string): boolean {
  const needed = acrRank(required);
  return needed !== -1 && acrRank(achieved) >= needed;
}

/** The stronger of two acr values (undefined when neither is the broker's). */
export function strongerAcr(a: string | undefined, b: string | undefined): string | undefined {
  return acrRank(a) >= acrRank(b) ? (acrRank(a) === -1 ? undefined : a) : b;
}
