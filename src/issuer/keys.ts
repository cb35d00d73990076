// Signing keys of the issuer: a private JWKS file (rotated by editing it), or keys kept sealed in the store and rotated there.
import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import type { BrokerConfig } from '../config/load.js';
import { VaultKeyRing } from '../session/vault-crypto.js';
import type { KeyValueStore } from '../store/store.js';
import { generateKey } from './key-generate.js';
import { SigningKeyStore, type IssuerKeys } from './key-store.js';

const SUPPORTED = new Set(['ES256', 'RS256', 'PS256', 'EdDSA']);

/** Reads a private JWKS file and checks that it holds an ES256 (P-256) signing key. */
export function readJwksFile(path: string): JWK[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`jwksFile ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`jwksFile ${path}: must be a JWKS with a non-empty "keys" array`);
  keys.forEach((key: JWK, index) => {
    if (!key || typeof key !== 'object' || !key.d) throw new Error(`jwksFile ${path}: keys[${index}] is not a private key`);
    if (key.alg && !SUPPORTED.has(key.alg)) throw new Error(`jwksFile ${path}: keys[${index}].alg ${key.alg} is not supported`);
  });
  if (!keys.some((key: JWK) => key.kty === 'EC' && key.crv === 'P-256')) throw new Error(`jwksFile ${path}: needs an EC P-256 key for ES256`);
  return keys as JWK[];
}

/** A fresh private JWKS (ES256 + RS256) for production's jwksFile. */
export async function generateSigningJwks(): Promise<{ keys: JWK[] }> {
  return { keys: [await generateKey('ES256'), await generateKey('RS256')] };
}

/** The store's signing keys for this configuration: sealed with its vault keys, timed by its `keys` and `tokens` settings. */
export function signingKeyStore(config: BrokerConfig, store: KeyValueStore, now: () => number = Date.now): SigningKeyStore {
  const longestTokenTtl = Math.max(config.tokens.idTokenTtl, config.tokens.accessTokenTtl);
  return new SigningKeyStore(
    store,
    new VaultKeyRing(config.vaultKeys),
    { publishBeforeUseMs: config.keys.publishBeforeUseSeconds * 1000, retentionMs: (longestTokenTtl + config.keys.clockSkewSeconds) * 1000 },
    now,
  );
}

/** The keys the issuer serves now: the jwksFile's as they are (fingerprint "file"), or the store's published ones. */
export async function loadSigningKeys(config: BrokerConfig, store: KeyValueStore, now?: () => number): Promise<Pick<IssuerKeys, 'keys' | 'fingerprint'>> {
  if (config.jwksFile) return { keys: readJwksFile(config.jwksFile), fingerprint: 'file' };
  return signingKeyStore(config, store, now).issuerKeys();
}
