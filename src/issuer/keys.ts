// Signing keys of the issuer: a private JWKS file, or (development) ES256 + RS256 keys generated once and shared through the store.
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { KeyValueStore } from '../store/store.js';

export interface SigningKeys {
  keys: JWK[];
  generated: boolean;
}

const GENERATED_KEYS = 'issuer:generated-jwks';
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

async function generateKey(alg: 'ES256' | 'RS256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) };
}

/** A fresh private JWKS (ES256 + RS256) for production's jwksFile. */
export async function generateSigningJwks(): Promise<{ keys: JWK[] }> {
  return { keys: [await generateKey('ES256'), await generateKey('RS256')] };
}

/** Generates keys unless another instance already did; every instance then publishes the same JWKS. */
export async function sharedGeneratedKeys(store: KeyValueStore): Promise<JWK[]> {
  const existing = await store.get<JWK[]>(GENERATED_KEYS);
  if (existing) return existing;
  const fresh = (await generateSigningJwks()).keys;
  await store.setIfAbsent(GENERATED_KEYS, fresh, 365 * 86400_000);
  return (await store.get<JWK[]>(GENERATED_KEYS)) ?? fresh;
}

export async function loadSigningKeys(jwksFile: string | undefined, store: KeyValueStore): Promise<SigningKeys> {
  if (jwksFile) return { keys: readJwksFile(jwksFile), generated: false };
  return { keys: await sharedGeneratedKeys(store), generated: true };
}
