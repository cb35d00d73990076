// A software WebAuthn authenticator for tests: P-256 keys in node:crypto, 'none' attestation in CBOR, assertions signed like a browser's.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

type Cbor = number | string | Uint8Array | Map<number | string, Cbor> | Cbor[];

/** The few CBOR shapes attestation needs (RFC 8949): integers, byte and text strings, arrays, maps in the given order. */
export function cborEncode(value: Cbor): Buffer {
  const head = (major: number, length: number): Buffer => {
    if (length < 24) return Buffer.from([(major << 5) | length]);
    if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
    if (length < 0x10000) return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(length, 1);
    return b;
  };
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value, 'utf8')]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cborEncode)]);
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cborEncode(k), cborEncode(v)])]);
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

export interface SoftwareAuthenticatorOptions {
  /** The page's origin the browser would put in clientDataJSON (the broker's issuer origin). */
  origin: string;
  /** Default: the origin's host name. */
  rpId?: string;
  /** The authenticator verifies its user (PIN, biometrics). Default true. */
  userVerification?: boolean;
  /** A synced passkey (backup eligible and backed up: swk) rather than a device-bound key (hwk). Default false. */
  synced?: boolean;
  /** 'increment' (a security key) or 'zero' (many passkey providers keep no counter). Default 'increment'. */
  counter?: 'increment' | 'zero';
}

/** Per-ceremony changes a test makes to play an attacker or a broken authenticator. */
export interface CeremonyOverrides {
  origin?: string;
  rpId?: string;
  challenge?: string;
  userVerified?: boolean;
  /** The signature counter to report (an assertion only), e.g. lower than before: a cloned key. */
  counter?: number;
  /** Sign with a key that is not the credential's. */
  forgeSignature?: boolean;
  /** Registration only: report this credential id (base64url) for the new key, as a hostile authenticator could. */
  credentialId?: string;
}

interface HeldCredential {
  privateKey: KeyObject;
  counter: number;
  userHandle: string;
}

export interface SoftwareAuthenticator {
  readonly rpId: string;
  /** What navigator.credentials.create() would answer for these options (PublicKeyCredential.toJSON()). */
  register(options: PublicKeyCredentialCreationOptionsJSON, overrides?: CeremonyOverrides): RegistrationResponseJSON;
  /** What navigator.credentials.get() would answer, with the first allowed credential this authenticator holds. */
  assert(options: PublicKeyCredentialRequestOptionsJSON, overrides?: CeremonyOverrides): AuthenticationResponseJSON;
  /** Credential ids (base64url) this authenticator holds. */
  readonly credentialIds: readonly string[];
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();
const b64url = (data: Buffer) => data.toString('base64url');

export function createSoftwareAuthenticator(options: SoftwareAuthenticatorOptions): SoftwareAuthenticator {
  const rpId = options.rpId ?? new URL(options.origin).hostname;
  const held = new Map<string, HeldCredential>();
  const uv = options.userVerification ?? true;
  const backup = options.synced ? FLAG_BE | FLAG_BS : 0;

  const clientData = (type: string, challenge: string, overrides: CeremonyOverrides) =>
    Buffer.from(JSON.stringify({ type, challenge: overrides.challenge ?? challenge, origin: overrides.origin ?? options.origin, crossOrigin: false }), 'utf8');

  const authData = (rp: string, flags: number, counter: number, attested?: Buffer) => {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(rp), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  };

  return {
    rpId,
    get credentialIds() {
      return [...held.keys()];
    },

    register(creation, overrides = {}) {
      if (creation.rp.id !== undefined && creation.rp.id !== rpId) throw new Error(`SecurityError: rp.id ${creation.rp.id} is not ${rpId}`);
      if (!creation.pubKeyCredParams.some((param) => param.alg === -7)) throw new Error('NotSupportedError: ES256 not offered');
      if (creation.excludeCredentials?.some((excluded) => held.has(excluded.id))) throw new Error('InvalidStateError: already registered');
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const cose = cborEncode(
        new Map<number, Cbor>([
          [1, 2], // kty: EC2
          [3, -7], // alg: ES256
          [-1, 1], // crv: P-256
          [-2, Buffer.from(jwk.x!, 'base64url')],
          [-3, Buffer.from(jwk.y!, 'base64url')],
        ]),
      );
      const credentialId = overrides.credentialId ? Buffer.from(overrides.credentialId, 'base64url') : randomBytes(32);
      const idLength = Buffer.alloc(2);
      idLength.writeUInt16BE(credentialId.length);
      const attested = Buffer.concat([Buffer.alloc(16), idLength, credentialId, cose]);
      const verified = overrides.userVerified ?? uv;
      const data = authData(overrides.rpId ?? rpId, FLAG_UP | (verified ? FLAG_UV : 0) | backup | FLAG_AT, 0, attested);
      const attestationObject = cborEncode(new Map<string, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', data]]));
      const id = b64url(credentialId);
      held.set(id, { privateKey, counter: 0, userHandle: creation.user.id });
      return {
        id,
        rawId: id,
        type: 'public-key',
        response: {
          clientDataJSON: b64url(clientData('webauthn.create', creation.challenge, overrides)),
          attestationObject: b64url(attestationObject),
          transports: ['internal'],
        },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },

    assert(request, overrides = {}) {
      const allowed = request.allowCredentials?.map((credential) => credential.id) ?? [...held.keys()];
      const id = allowed.find((candidate) => held.has(candidate));
      if (!id) throw new Error('NotAllowedError: no credential for this request');
      const credential = held.get(id)!;
      if (options.counter !== 'zero') credential.counter += 1;
      const counter = overrides.counter ?? (options.counter === 'zero' ? 0 : credential.counter);
      const verified = overrides.userVerified ?? uv;
      const data = authData(overrides.rpId ?? request.rpId ?? rpId, FLAG_UP | (verified ? FLAG_UV : 0) | backup, counter);
      const client = clientData('webauthn.get', request.challenge, overrides);
      const key = overrides.forgeSignature ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : credential.privateKey;
      const signature = sign('sha256', Buffer.concat([data, sha256(client)]), key);
      return {
        id,
        rawId: id,
        type: 'public-key',
        response: {
          clientDataJSON: b64url(client),
          authenticatorData: b64url(data),
          signature: b64url(signature),
          userHandle: credential.userHandle,
        },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
  };
}
