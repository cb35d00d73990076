// Settings shared by the broker and its peers in every scenario: the user, the client, cookie keys and the signing keys file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

export const BENCH_USER = { username: 'alice', password: 'correct horse battery staple', email: 'alice@example.com', name: 'Alice Liddell', groups: ['admins', 'staff'] };

/**
 * Logins rotate over this many local users (same password), so an account holds a realistic handful of sessions:
 * the broker's per-account work (session index, re-verification) grows with the sessions of that account.
 */
export const USER_COUNT = 1000;

/** The i-th bench user (wraps around USER_COUNT); user 0 is BENCH_USER. */
export function benchUser(i: number): { username: string; email: string; name: string; groups: string[] } {
  const n = ((i % USER_COUNT) + USER_COUNT) % USER_COUNT;
  if (n === 0) return { username: BENCH_USER.username, email: BENCH_USER.email, name: BENCH_USER.name, groups: BENCH_USER.groups };
  const username = `user${String(n).padStart(4, '0')}`;
  return { username, email: `${username}@example.com`, name: `Bench User ${n}`, groups: ['staff'] };
}

/** A confidential first-party client (skipConsent): the login flow has no consent page unless prompt=consent. */
export const BENCH_CLIENT = {
  clientId: 'bench-rp',
  clientSecret: 'bench-rp-secret-0123456789abcdefghijklmnopqrstuv',
  redirectUri: 'http://127.0.0.1:1/cb',
};

export const COOKIE_KEYS = ['bench-cookie-key-0123456789abcdefghijklmnopqrstuvwxyz'];

/** The broker's client configuration entry (config file shape); peers derive the same oidc-provider metadata from it. */
export const BENCH_CLIENT_CONFIG = {
  clientId: BENCH_CLIENT.clientId,
  clientSecret: BENCH_CLIENT.clientSecret,
  redirectUris: [BENCH_CLIENT.redirectUri],
  name: 'Bench RP',
  skipConsent: true,
};

/** Writes a private JWKS (ES256 + RS256) both servers load, so they sign with the same keys and algorithms. */
export async function writeBenchJwks(): Promise<string> {
  const keys = [];
  for (const alg of ['ES256', 'RS256'] as const) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
    const jwk = await exportJWK(privateKey);
    keys.push({ ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) });
  }
  const path = join(mkdtempSync(join(tmpdir(), 'vestibule-bench-')), 'jwks.json');
  writeFileSync(path, JSON.stringify({ keys }), { mode: 0o600 });
  return path;
}
