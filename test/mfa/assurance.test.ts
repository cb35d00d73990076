// The acr/amr vocabulary: acr order and satisfaction, RFC 8176 amr merging (tables and properties), and the acr a sign-in truly earned.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACR_MFA,
  ACR_PASSWORD,
  ACR_PHISHING_RESISTANT,
  ACR_VALUES,
  acrFor,
  acrRank,
  acrSatisfies,
  amrIsMultiFactor,
  isRegisteredAmr,
  mergeAmr,
  RFC8176_AMR_VALUES,
  weakestKnownAcr,
} from '../../src/mfa/assurance.js';

describe('acr', () => {
  it('orders password < mfa < phishing-resistant, with the documented URNs', () => {
    expect(ACR_VALUES).toEqual(['urn:vestibule:acr:password', 'urn:vestibule:acr:mfa', 'urn:vestibule:acr:phr']);
    expect([ACR_PASSWORD, ACR_MFA, ACR_PHISHING_RESISTANT].map(acrRank)).toEqual([0, 1, 2]);
    expect(acrRank('urn:other')).toBe(-1);
    expect(acrRank(undefined)).toBe(-1);
  });

  it.each([
    [ACR_PASSWORD, ACR_PASSWORD, true],
    [ACR_PASSWORD, ACR_MFA, false],
    [ACR_MFA, ACR_PASSWORD, true],
    [ACR_MFA, ACR_MFA, true],
    [ACR_MFA, ACR_PHISHING_RESISTANT, false],
    [ACR_PHISHING_RESISTANT, ACR_MFA, true],
    [ACR_PHISHING_RESISTANT, ACR_PHISHING_RESISTANT, true],
    [undefined, ACR_PASSWORD, false],
    ['urn:upstream:acr:gold', ACR_PASSWORD, false],
    [ACR_PHISHING_RESISTANT, 'urn:unknown', false],
  ])('session acr %s satisfies %s: %s', (have, want, expected) => {
    expect(acrSatisfies(have, want)).toBe(expected);
  });

  it('picks the weakest broker acr among requested values, ignoring foreign ones', () => {
    expect(weakestKnownAcr([ACR_PHISHING_RESISTANT, ACR_MFA])).toBe(ACR_MFA);
    expect(weakestKnownAcr(['urn:x', ACR_PHISHING_RESISTANT])).toBe(ACR_PHISHING_RESISTANT);
    expect(weakestKnownAcr(['urn:x'])).toBeUndefined();
    expect(weakestKnownAcr([])).toBeUndefined();
  });
});

describe('amr', () => {
  it.each([
    [[['pwd']], ['pwd']],
    [[['pwd'], ['otp']], ['pwd', 'otp', 'mfa']],
    [[['pwd'], ['hwk']], ['pwd', 'hwk', 'mfa']],
    [[['pwd'], ['swk']], ['pwd', 'swk', 'mfa']],
    [[['otp'], ['otp']], ['otp']],
    [[['otp'], ['hwk']], ['otp', 'hwk']], // two things one has: one category, not MFA
    [[['pwd', 'pin']], ['pwd', 'pin']], // two things one knows
    [[['fpt', 'hwk']], ['fpt', 'hwk', 'mfa']],
    [[['user', 'pwd']], ['user', 'pwd']], // presence proves no factor
    [[['mfa']], ['mfa']], // an upstream that says it did MFA
    [[['pwd', 'urn:custom', 'PWD', '']], ['pwd']], // only registered RFC 8176 values pass
    [[undefined, ['pwd']], ['pwd']],
    [[['pwd', 'otp', 'mfa'], ['otp']], ['pwd', 'otp', 'mfa']],
  ])('mergeAmr(%j) = %j', (lists, expected) => {
    expect(mergeAmr(...lists)).toEqual(expected);
  });

  it('tells multi-factor from single-factor', () => {
    expect(amrIsMultiFactor(['pwd', 'otp'])).toBe(true);
    expect(amrIsMultiFactor(['mfa'])).toBe(true);
    expect(amrIsMultiFactor(['pwd'])).toBe(false);
    expect(amrIsMultiFactor([])).toBe(false);
  });

  it.each([
    [{ amr: ['pwd'] }, ACR_PASSWORD],
    [{ amr: [] }, ACR_PASSWORD],
    [{ amr: ['pwd', 'otp'] }, ACR_MFA],
    [{ amr: ['mfa'] }, ACR_MFA],
    [{ amr: ['pwd', 'hwk'], phishingResistant: true }, ACR_PHISHING_RESISTANT],
    [{ amr: ['pwd', 'otp'], phishingResistant: false }, ACR_MFA],
  ])('acrFor(%j) = %s', (input, expected) => {
    expect(acrFor(input)).toBe(expected);
  });
});

describe('amr merging properties', () => {
  const value = fc.oneof(fc.constantFrom(...RFC8176_AMR_VALUES), fc.string({ maxLength: 8 }));
  const list = fc.array(value, { maxLength: 8 });

  it('keeps registered values only, each once, and is idempotent', () => {
    fc.assert(
      fc.property(fc.array(list, { maxLength: 4 }), (lists) => {
        const merged = mergeAmr(...lists);
        expect(new Set(merged).size).toBe(merged.length);
        expect(merged.every(isRegisteredAmr)).toBe(true);
        expect(mergeAmr(merged)).toEqual(merged);
        for (const input of lists.flat()) if (isRegisteredAmr(input)) expect(merged).toContain(input);
      }),
    );
  });

  it('adds mfa exactly when some list says mfa or the values prove two factor categories, whatever the order', () => {
    fc.assert(
      fc.property(list, list, (a, b) => {
        expect(mergeAmr(a, b).includes('mfa')).toBe(mergeAmr(b, a).includes('mfa'));
        expect(mergeAmr(a, b).includes('mfa')).toBe(mergeAmr([...a, ...b]).includes('mfa'));
        if (mergeAmr(a).includes('mfa')) expect(mergeAmr(a, b)).toContain('mfa'); // a second list never takes MFA away
      }),
    );
  });

  it('acrSatisfies is the order of ACR_VALUES', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ACR_VALUES), fc.constantFrom(...ACR_VALUES), (have, want) => {
        expect(acrSatisfies(have, want)).toBe(ACR_VALUES.indexOf(have) >= ACR_VALUES.indexOf(want));
      }),
    );
  });
});
