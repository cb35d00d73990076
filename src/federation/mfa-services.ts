// The second-factor services one broker uses: the factors built from the `mfa` settings (mfa/factors.ts) and how long a verified factor counts as fresh.
import type { BrokerConfig } from '../config/load.js';
import { createMfaFactors, type MfaFactors } from '../mfa/factors.js';
import type { KeyValueStore } from '../store/store.js';

export interface MfaServices extends MfaFactors {
  /** How long a verified factor lets the user enrol another one (the enrolment gate), ms: risk.stepUpMaxAgeSeconds. */
  freshForMs: number;
}

export function createMfaServices(config: BrokerConfig, store: KeyValueStore, now: () => number): MfaServices {
  const factors = createMfaFactors({ store, vaultKeys: config.vaultKeys, issuer: config.issuer, productName: config.branding.productName, config: config.mfa, now });
  return { ...factors, freshForMs: config.risk.stepUpMaxAgeSeconds * 1000 };
}
