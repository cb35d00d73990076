// Generates one private signing JWK (ES256 or RS256) with its RFC 7638 thumbprint as kid.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

/** The algorithms the issuer signs with: ES256 by default, RS256 for clients that need it. */
export const SIGNING_ALGS = ['ES256', 'RS256'] as const;

export async function generateKey(alg: (typeof SIGNING_ALGS)[number]): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) };
}
