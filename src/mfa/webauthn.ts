// WebAuthn / passkeys with @simplewebauthn/server: rpID and origin from the issuer URL, single-use challenges bound to account and sign-in.
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import type { KeyValueStore } from '../store/store.js';
import type { AmrValue } from './assurance.js';
import { cleanLabel, FOREVER_MS, webauthnCredentialKey, type CredentialRepository, type WebAuthnRecord } from './credentials.js';
import type { Factor, FactorEnrolment, FactorFailure, FactorSubject, FactorVerification } from './factor.js';

/** The library, loaded at the first passkey ceremony: a broker whose users never use one does not carry it (about 20 MB resident). */
let library: Promise<typeof import('@simplewebauthn/server')> | undefined;
const webauthnLibrary = () => (library ??= import('@simplewebauthn/server'));

/** ES256 and RS256: what every platform authenticator and security key offers, and what node:crypto verifies. */
const ALGORITHMS = [-7, -257];
/** A browser's credential JSON is a few KiB at most; anything beyond this is refused unread. */
export const MAX_WEBAUTHN_RESPONSE_BYTES = 16 * 1024;

export interface WebAuthnOptions {
  store: KeyValueStore;
  credentials: CredentialRepository;
  /** The broker's issuer URL: its origin is the expected origin, its host name the rpID. */
  issuer: string;
  rpName: string;
  userVerification: 'preferred' | 'required' | 'discouraged';
  challengeTtlMs: number;
  maxFactorsPerAccount: number;
  now?: () => number;
}

export interface WebAuthnEnrolAnswer {
  /** What navigator.credentials.create() answered, as JSON (PublicKeyCredential.toJSON()). */
  response: unknown;
  /** A name for the passkey (default "Passkey"). */
  label?: string;
}

export interface WebAuthnAnswer {
  /** What navigator.credentials.get() answered, as JSON. */
  response: unknown;
}

type Purpose = 'register' | 'authenticate';
interface StoredChallenge {
  challenge: string;
}

const challengeKey = (purpose: Purpose, subject: FactorSubject) => `mfa-webauthn-challenge:${purpose}:${subject.accountId}:${subject.interactionId}`;

const b64url = z.string().max(MAX_WEBAUTHN_RESPONSE_BYTES).regex(/^[A-Za-z0-9_-]*={0,2}$/);
const registrationShape = z.looseObject({
  id: b64url.min(1),
  rawId: b64url.min(1),
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: b64url, attestationObject: b64url, transports: z.array(z.string().max(32)).max(8).optional() }),
  clientExtensionResults: z.looseObject({}),
});
const authenticationShape = z.looseObject({
  id: b64url.min(1),
  rawId: b64url.min(1),
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: b64url, authenticatorData: b64url, signature: b64url, userHandle: b64url.nullable().optional() }),
  clientExtensionResults: z.looseObject({}),
});

/** The credential JSON if it has the browser's shape and a sane size; undefined otherwise. */
function parseResponse<T>(shape: z.ZodType, input: unknown): T | undefined {
  let size: number;
  try {
    size = JSON.stringify(input ?? null).length;
  } catch {
    return undefined;
  }
  if (size > MAX_WEBAUTHN_RESPONSE_BYTES) return undefined;
  const parsed = shape.safeParse(input);
  return parsed.success ? (parsed.data as T) : undefined;
}

/** Maps a verification library error to a refusal reason; its message (no secret in it) becomes the detail for logs. */
function refusal(error: unknown): FactorFailure {
  const message = error instanceof Error ? error.message.slice(0, 200) : 'verification failed';
  if (/counter value/i.test(message)) return { ok: false, reason: 'counter_regression', detail: message };
  return { ok: false, reason: 'invalid', detail: message };
}

/** amr of a credential: a synced passkey is a software-held key (swk), a device-bound one a hardware key (hwk). */
export const webauthnAmr = (record: Pick<WebAuthnRecord, 'deviceType'>): AmrValue => (record.deviceType === 'multiDevice' ? 'swk' : 'hwk');

export class WebAuthnFactor implements Factor<PublicKeyCredentialCreationOptionsJSON, WebAuthnEnrolAnswer, PublicKeyCredentialRequestOptionsJSON, WebAuthnAnswer> {
  readonly kind = 'webauthn' as const;
  readonly amr = ['hwk', 'swk'] as const;
  readonly phishingResistant = true;
  readonly rpId: string;
  readonly origin: string;
  private readonly now: () => number;

  constructor(private readonly options: WebAuthnOptions) {
    const issuer = new URL(options.issuer);
    this.rpId = issuer.hostname;
    this.origin = issuer.origin;
    this.now = options.now ?? Date.now;
  }

  /** Options for navigator.credentials.create(): the account's passkeys excluded, user verification as configured. */
  async startEnrolment(subject: FactorSubject): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.options.credentials.ofKind(subject.accountId, 'webauthn');
    const options = await (await webauthnLibrary()).generateRegistrationOptions({
      rpName: this.options.rpName,
      rpID: this.rpId,
      userID: Buffer.from(await this.options.credentials.userHandle(subject.accountId), 'base64url'),
      userName: subject.displayName ?? subject.accountId,
      userDisplayName: subject.displayName ?? '',
      timeout: this.options.challengeTtlMs,
      attestationType: 'none',
      excludeCredentials: existing.map((record) => ({ id: record.credentialId, ...(record.transports ? { transports: record.transports } : {}) })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: this.options.userVerification },
      supportedAlgorithmIDs: ALGORITHMS,
    });
    await this.saveChallenge('register', subject, options.challenge);
    return options;
  }

  /** Verifies the attestation against this sign-in's challenge (spent whatever the outcome) and stores the passkey. */
  async finishEnrolment(subject: FactorSubject, answer: WebAuthnEnrolAnswer): Promise<FactorEnrolment> {
    const response = parseResponse<RegistrationResponseJSON>(registrationShape, answer?.response);
    if (!response) return { ok: false, reason: 'malformed' };
    const challenge = await this.options.store.take<StoredChallenge>(challengeKey('register', subject));
    if (!challenge) return { ok: false, reason: 'no_challenge' };
    if ((await this.options.credentials.records(subject.accountId)).length >= this.options.maxFactorsPerAccount) return { ok: false, reason: 'limit_reached' };
    let info;
    try {
      const verified = await (await webauthnLibrary()).verifyRegistrationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId,
        requireUserVerification: this.options.userVerification === 'required',
        supportedAlgorithmIDs: ALGORITHMS,
      });
      if (!verified.verified) return { ok: false, reason: 'invalid' };
      info = verified.registrationInfo;
    } catch (error) {
      return refusal(error);
    }
    const credentialId = info.credential.id;
    if (!(await this.options.store.setIfAbsent(webauthnCredentialKey(credentialId), subject.accountId, FOREVER_MS))) {
      return { ok: false, reason: 'invalid', detail: 'credential id already registered' };
    }
    const id = this.options.credentials.newId();
    const record: WebAuthnRecord = {
      id,
      kind: 'webauthn',
      label: cleanLabel(answer.label) ?? 'Passkey',
      createdAt: this.now(),
      credentialId,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      ...(info.credential.transports ? { transports: [...info.credential.transports] } : {}),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      aaguid: info.aaguid,
    };
    await this.options.credentials.add(subject.accountId, record);
    return { ok: true, factorId: id, kind: 'webauthn' };
  }

  /** Options for navigator.credentials.get(), limited to the account's passkeys; the challenge is kept for this sign-in. */
  async startVerification(subject: FactorSubject): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const existing = await this.options.credentials.ofKind(subject.accountId, 'webauthn');
    const options = await (await webauthnLibrary()).generateAuthenticationOptions({
      rpID: this.rpId,
      allowCredentials: existing.map((record) => ({ id: record.credentialId, ...(record.transports ? { transports: record.transports } : {}) })),
      userVerification: this.options.userVerification,
      timeout: this.options.challengeTtlMs,
    });
    await this.saveChallenge('authenticate', subject, options.challenge);
    return options;
  }

  /** Verifies the assertion: this sign-in's challenge (single use), the origin, the account's credential, its signature and counter. */
  async finishVerification(subject: FactorSubject, answer: WebAuthnAnswer): Promise<FactorVerification> {
    const response = parseResponse<AuthenticationResponseJSON>(authenticationShape, answer?.response);
    if (!response) return { ok: false, reason: 'malformed' };
    const challenge = await this.options.store.take<StoredChallenge>(challengeKey('authenticate', subject));
    if (!challenge) return { ok: false, reason: 'no_challenge' };
    const record = (await this.options.credentials.ofKind(subject.accountId, 'webauthn')).find((candidate) => candidate.credentialId === response.id);
    if (!record) return { ok: false, reason: 'no_factor' };
    if (typeof response.response.userHandle === 'string' && response.response.userHandle !== (await this.options.credentials.userHandle(subject.accountId))) {
      return { ok: false, reason: 'invalid', detail: 'user handle of another account' };
    }
    let info;
    try {
      const verified = await (await webauthnLibrary()).verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId,
        credential: {
          id: record.credentialId,
          publicKey: Buffer.from(record.publicKey, 'base64url'),
          counter: record.counter,
          ...(record.transports ? { transports: record.transports } : {}),
        },
        requireUserVerification: this.options.userVerification === 'required',
      });
      if (!verified.verified) return { ok: false, reason: 'invalid' };
      info = verified.authenticationInfo;
    } catch (error) {
      return refusal(error);
    }
    if (!(await this.options.credentials.touch(subject.accountId, record.id, { counter: info.newCounter, backedUp: info.credentialBackedUp }))) return { ok: false, reason: 'no_factor' };
    return { ok: true, factorId: record.id, kind: 'webauthn', amr: [webauthnAmr(record)], phishingResistant: true };
  }

  /** One live challenge per purpose, account and sign-in: a newer start replaces the older one. */
  private async saveChallenge(purpose: Purpose, subject: FactorSubject, challenge: string): Promise<void> {
    await this.options.store.set(challengeKey(purpose, subject), { challenge } satisfies StoredChallenge, this.options.challengeTtlMs);
  }
}
