// SP key material: PEM from config (inline or file path), or a self-signed development key kept in the store.
import { createPrivateKey, createSign, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { KeyValueStore } from '../store/store.js';

export interface KeyPair {
  privateKeyPem: string;
  certPem: string;
  generated: boolean;
}

/** A PEM given inline, or a path (relative to the provider file) to a PEM file. */
export function readPem(value: string, baseDir: string): string {
  return value.trimStart().startsWith('-----BEGIN') ? value : readFileSync(resolve(baseDir, value), 'utf8');
}

/** Loads and cross-checks a configured key + certificate (the certificate must hold the key's public half). */
export function loadKeyPair(keyValue: string, certValue: string, baseDir: string): KeyPair {
  const privateKeyPem = readPem(keyValue, baseDir);
  const certPem = readPem(certValue, baseDir);
  const key = createPrivateKey(privateKeyPem);
  const cert = new X509Certificate(certPem);
  if (!cert.checkPrivateKey(key)) throw new Error('the SP certificate does not match the SP private key');
  if (key.asymmetricKeyType !== 'rsa') throw new Error('the SP key must be an RSA key');
  return { privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(), certPem: cert.toString(), generated: false };
}

// --- minimal DER writer, enough for one self-signed X.509 v3 certificate ---
function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const der = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
};
const seq = (...parts: Buffer[]): Buffer => der(0x30, ...parts);
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [a * 40 + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}
function utcTime(date: Date): Buffer {
  const s = date.toISOString();
  return der(0x17, Buffer.from(`${s.slice(2, 4)}${s.slice(5, 7)}${s.slice(8, 10)}${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 19)}Z`));
}
const name = (cn: string): Buffer => seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(cn, 'utf8')))));

/** Generates an RSA-2048 key and a self-signed SHA-256 certificate for `commonName`, valid `days` from `now`. */
export function generateSelfSigned(commonName: string, now: number, days = 3650): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const sha256WithRsa = seq(oid('1.2.840.113549.1.1.11'), der(0x05));
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(0x02, serial),
    sha256WithRsa,
    name(commonName),
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + days * 86_400_000))),
    name(commonName),
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = createSign('RSA-SHA256').update(tbs).sign(privateKey);
  const certificate = seq(tbs, sha256WithRsa, der(0x03, Buffer.from([0]), signature));
  const certPem = `-----BEGIN CERTIFICATE-----\n${certificate.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certPem, generated: true };
}

/**
 * Development only: a generated SP key pair per connector, kept in the store so restarts (with Redis) keep the same
 * certificate the IdP has already imported.
 */
export async function developmentKeyPair(store: KeyValueStore, connectorId: string, commonName: string, now: number): Promise<KeyPair> {
  const key = `saml:devkeys:${connectorId}`;
  const existing = await store.get<{ privateKeyPem: string; certPem: string }>(key);
  if (existing) return { ...existing, generated: true };
  const fresh = generateSelfSigned(commonName, now);
  await store.setIfAbsent(key, { privateKeyPem: fresh.privateKeyPem, certPem: fresh.certPem }, 3650 * 86_400_000);
  const kept = (await store.get<{ privateKeyPem: string; certPem: string }>(key)) ?? fresh;
  return { ...kept, generated: true };
}
