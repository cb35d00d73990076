// Shared setup of the MFA tests: the factors on a given store with a settable clock and fresh vault keys.
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { mfaConfigSchema, type MfaConfig } from '../../src/config/mfa-schema.js';
import { createMfaFactors, type MfaFactors } from '../../src/mfa/factors.js';
import type { KeyValueStore } from '../../src/store/store.js';

export const ISSUER = 'https://broker.example.test';

export interface MfaFixture extends MfaFactors {
  clock: { now: number };
  vaultKey: Buffer;
}

/** The factors with the default mfa settings (overridable), 09:00:10 UTC on 1 December 2026 by default. */
export function mfaFixture(store: KeyValueStore, config: Partial<MfaConfig> = {}): MfaFixture {
  const clock = { now: Date.UTC(2026, 11, 1, 9, 0, 10) };
  const vaultKey = randomBytes(32);
  const factors = createMfaFactors({
    store,
    vaultKeys: [vaultKey],
    issuer: ISSUER,
    productName: 'Vestibule',
    config: { ...mfaConfigSchema.parse({}), ...config },
    now: () => clock.now,
  });
  return { ...factors, clock, vaultKey };
}

/** The code an authenticator app shows for `secret` (base32) at `timestamp`. */
export function totpCode(secret: string, timestamp: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp });
}
