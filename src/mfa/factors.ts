// Builds the MFA parts from the configuration: the credential repository, the wrong-answer budget and one instance of each factor.
import type { MfaConfig } from '../config/mfa-schema.js';
import { VaultKeyRing } from '../session/vault-crypto.js';
import type { KeyValueStore } from '../store/store.js';
import { FactorAttempts } from './attempts.js';
import { CredentialRepository } from './credentials.js';
import type { FactorKind } from './factor.js';
import { RecoveryCodesFactor } from './recovery.js';
import { TotpFactor } from './totp.js';
import { WebAuthnFactor } from './webauthn.js';

export interface MfaFactors {
  credentials: CredentialRepository;
  attempts: FactorAttempts;
  totp: TotpFactor;
  webauthn: WebAuthnFactor;
  recovery: RecoveryCodesFactor;
  /** The factor of a kind (e.g. from a form field), or undefined for an unknown kind. */
  factor(kind: string): TotpFactor | WebAuthnFactor | RecoveryCodesFactor | undefined;
}

export interface MfaDeps {
  store: KeyValueStore;
  /** The vault keys (config.vaultKeys): the first seals TOTP secrets, all open them. */
  vaultKeys: readonly (Buffer | Uint8Array | string)[];
  issuer: string;
  /** branding.productName: the default issuer name in apps and relying-party name in passkey dialogs. */
  productName: string;
  config: MfaConfig;
  now?: () => number;
}

export function createMfaFactors({ store, vaultKeys, issuer, productName, config, now = Date.now }: MfaDeps): MfaFactors {
  const credentials = new CredentialRepository(store, new VaultKeyRing(vaultKeys), now);
  const attempts = new FactorAttempts(store, config.maxFailedAttempts, config.failedAttemptsWindowSeconds * 1000);
  const enrolmentTtlMs = config.enrolmentTtlSeconds * 1000;
  const { maxFactorsPerAccount } = config;
  const totp = new TotpFactor({ store, credentials, attempts, issuerName: config.issuerName ?? productName, window: config.totp.window, enrolmentTtlMs, maxFactorsPerAccount, now });
  const webauthn = new WebAuthnFactor({
    store,
    credentials,
    issuer,
    rpName: config.webauthn.rpName ?? productName,
    userVerification: config.webauthn.userVerification,
    challengeTtlMs: config.webauthn.challengeTtlSeconds * 1000,
    maxFactorsPerAccount,
    now,
  });
  const recovery = new RecoveryCodesFactor({ store, credentials, attempts, codeCount: config.recovery.codeCount, enrolmentTtlMs, maxFactorsPerAccount, now });
  const byKind: Record<FactorKind, TotpFactor | WebAuthnFactor | RecoveryCodesFactor> = { totp, webauthn, recovery };
  return { credentials, attempts, totp, webauthn, recovery, factor: (kind) => (Object.hasOwn(byKind, kind) ? byKind[kind as FactorKind] : undefined) };
}
