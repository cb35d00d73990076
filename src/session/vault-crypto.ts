// AES-256-GCM sealing for the upstream token vault: a key ring (first key encrypts, all decrypt) and AAD bound to the session.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** What the store holds for one session: never the plaintext. */
export interface SealedBox {
  v: 1;
  /** Key id: first 8 bytes of SHA-256(key), base64url; picks the decryption key after a rotation. */
  k: string;
  iv: string;
  ct: string;
  tag: string;
}

interface RingKey {
  id: string;
  key: Buffer;
}

export class VaultKeyError extends Error {
  override readonly name = 'VaultKeyError';
}

/** Decodes a 32-byte key given as a Buffer, base64 or base64url. */
export function parseVaultKey(input: Buffer | Uint8Array | string): Buffer {
  const key = typeof input === 'string' ? Buffer.from(input, /[+/]/.test(input) ? 'base64' : 'base64url') : Buffer.from(input);
  if (key.length !== 32) throw new VaultKeyError(`a vault key must be 32 bytes (got ${key.length})`);
  return key;
}

const aad = (sessionId: string) => Buffer.from(`vestibule-vault-v1\0${sessionId}`, 'utf8');

export class VaultKeyRing {
  private readonly keys: RingKey[];

  constructor(keys: readonly (Buffer | Uint8Array | string)[]) {
    if (keys.length === 0) throw new VaultKeyError('the vault needs at least one key');
    this.keys = keys.map((k) => {
      const key = parseVaultKey(k);
      return { id: createHash('sha256').update(key).digest().subarray(0, 8).toString('base64url'), key };
    });
  }

  /** Encrypts under the first key; the session id is authenticated, so a box cannot be moved to another session. */
  seal(sessionId: string, plaintext: string): SealedBox {
    const { id, key } = this.keys[0] as RingKey;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(sessionId));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { v: 1, k: id, iv: iv.toString('base64url'), ct: ct.toString('base64url'), tag: cipher.getAuthTag().toString('base64url') };
  }

  /** Decrypts with the key the box names; undefined when no key opens it (wrong session, tampered, retired key). */
  open(sessionId: string, box: unknown): string | undefined {
    if (!isSealedBox(box)) return undefined;
    const candidates = this.keys.filter((k) => k.id === box.k);
    for (const { key } of candidates) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(box.iv, 'base64url'), { authTagLength: 16 });
        decipher.setAAD(aad(sessionId));
        decipher.setAuthTag(Buffer.from(box.tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(box.ct, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        // authentication failed: try the next key with the same id (practically never), then give up
      }
    }
    return undefined;
  }
}

function isSealedBox(value: unknown): value is SealedBox {
  if (value === null || typeof value !== 'object') return false;
  const box = value as Record<string, unknown>;
  return (
    box.v === 1 &&
    typeof box.k === 'string' &&
    typeof box.iv === 'string' &&
    Buffer.from(box.iv, 'base64url').length === 12 &&
    typeof box.ct === 'string' &&
    typeof box.tag === 'string' &&
    Buffer.from(box.tag, 'base64url').length === 16
  );
}
