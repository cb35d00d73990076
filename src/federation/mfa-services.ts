// The second-factor services one broker uses: the credential repository (TOTP secrets sealed with the vault keys) and the factors, built from the `mfa` settings.
import type { BrokerConfig } from '../config/load.js';
import { FactorAttempts } from '../mfa/attempts.js';
import { CredentialRepository } from '../mfa/credentials.js';
import { RecoveryCodesFactor } from '../mfa/recovery.js';
import { TotpFactor } from '../mfa/totp.js';
import { VaultKeyRing } from '../session/vault-crypto.js';
import type { KeyValueStore } from '../store/store.js';

export interface MfaServices {
  credentials: CredentialRepository;
  totp: TotpFactor;
  recovery: RecoveryCodesFactor;
  /** How long a verified factor lets the user enrol another one (the enrolment gate), ms. */
  freshForMs: number;
}

export function createMfaServices(config: BrokerConfig, store: KeyValueStore, now: () => number): MfaServices {
  const { mfa } = config;
  const credentials = new CredentialRepository(store, new VaultKeyRing(config.vaultKeys), now);
  const attempts = new FactorAttempts(store, mfa.maxFailedAttempts, mfa.failedAttemptsWindowSeconds * 1000);
  const common = { store, credentials, attempts, enrolmentTtlMs: mfa.enrolmentTtlSeconds * 1000, maxFactorsPerAccount: mfa.maxFactorsPerAccount, now };
  return {
    credentials,
    totp: new TotpFactor({ ...common, issuerName: mfa.issuerName ?? config.branding.productName, window: mfa.totp.window }),
    recovery: new RecoveryCodesFactor({ ...common, codeCount: mfa.recovery.codeCount }),
    freshForMs: config.risk.stepUpMaxAgeSeconds * 1000,
  };
}
