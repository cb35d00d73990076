// The credential repository: each account's enrolled factors in one store map; TOTP secrets sealed with the vault keys.
import { randomBytes, randomUUID } from 'node:crypto';
import type { SealedBox, VaultKeyRing } from '../session/vault-crypto.js';
import type { KeyValueStore } from '../store/store.js';
import type { FactorKind } from './factor.js';

interface FactorRecordBase {
  id: string;
  kind: FactorKind;
  /** A name the user recognises ("Authenticator app", "YubiKey"); never a secret. */
  label: string;
  createdAt: number;
  lastUsedAt?: number;
}

export interface TotpRecord extends FactorRecordBase {
  kind: 'totp';
  /** The base32 secret sealed with the vault keys, bound to account and factor id (see totpSecretBinding). */
  secret: SealedBox;
  /** The newest time step accepted: older codes are refused afterwards (RFC 6238 section 5.2). */
  lastStep?: number;
}

export interface WebAuthnRecord extends FactorRecordBase {
  kind: 'webauthn';
  /** Credential id, base64url. */
  credentialId: string;
  /** COSE public key, base64url. */
  publicKey: string;
  /** Signature counter last seen (0: the authenticator keeps none). */
  counter: number;
  transports?: string[];
  /** 'multiDevice' (a synced passkey: swk) or 'singleDevice' (bound to one authenticator: hwk). */
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  aaguid: string;
}

export interface RecoveryRecord extends FactorRecordBase {
  kind: 'recovery';
  /** SHA-256 of each code (see recovery.ts); a used code is claimed in a separate store object. */
  hashes: string[];
}

export type FactorRecord = TotpRecord | WebAuthnRecord | RecoveryRecord;

/** What pages and admin commands may show of a factor: no secret, no key, no hash. */
export interface FactorSummary {
  id: string;
  kind: FactorKind;
  label: string;
  createdAt: number;
  lastUsedAt?: number;
}

/** The vault binding (AAD) of a TOTP secret: a sealed secret moved to another account or factor does not open. */
export const totpSecretBinding = (accountId: string, factorId: string) => `mfa-totp\0${accountId}\0${factorId}`;

/** setIfAbsent needs a TTL: a user handle lives a hundred years. */
export const FOREVER_MS = 100 * 365 * 86_400_000;
/** The account's factor ids (a map: factor id -> enrolment time); each record is a key of its own, so a use can update it in place. */
const indexKey = (accountId: string) => `mfa-factors:${accountId}`;
const factorKey = (accountId: string, factorId: string) => `mfa-factor:${accountId}:${factorId}`;
const userHandleKey = (accountId: string) => `mfa-user-handle:${accountId}`;
/** Which account a WebAuthn credential id belongs to: one credential is registered to one account only (WebAuthn 7.1 step 26). */
export const webauthnCredentialKey = (credentialId: string) => `mfa-webauthn-credential:${credentialId}`;
/** An object with one field per spent code hash of a recovery set: claim() on it spends a code exactly once. */
export const recoverySpentKey = (accountId: string, factorId: string) => `mfa-recovery-spent:${accountId}:${factorId}`;

/** The store entries that belong to a factor besides its record. */
const companionCleanup = (store: KeyValueStore, accountId: string, record: FactorRecord): Promise<unknown> =>
  record.kind === 'webauthn'
    ? store.deleteIfEquals(webauthnCredentialKey(record.credentialId), accountId)
    : record.kind === 'recovery'
      ? store.delete(recoverySpentKey(accountId, record.id))
      : Promise.resolve();

export class CredentialRepository {
  constructor(
    private readonly store: KeyValueStore,
    readonly keyRing: VaultKeyRing,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new factor id (opaque, unguessable). */
  newId(): string {
    return randomUUID();
  }

  /** Every enrolled factor of the account, oldest first. */
  async records(accountId: string): Promise<FactorRecord[]> {
    const ids = Object.keys(await this.store.mapGetAll(indexKey(accountId)));
    if (ids.length === 0) return [];
    const records = await this.store.getMany<FactorRecord>(ids.map((id) => factorKey(accountId, id)));
    return records.filter((record) => record !== undefined).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  /** The account's factors without their secrets, oldest first. */
  async list(accountId: string): Promise<FactorSummary[]> {
    return (await this.records(accountId)).map(({ id, kind, label, createdAt, lastUsedAt }) => ({ id, kind, label, createdAt, ...(lastUsedAt === undefined ? {} : { lastUsedAt }) }));
  }

  /** The account's factors of one kind, oldest first. */
  async ofKind<K extends FactorKind>(accountId: string, kind: K): Promise<Extract<FactorRecord, { kind: K }>[]> {
    return (await this.records(accountId)).filter((record): record is Extract<FactorRecord, { kind: K }> => record.kind === kind);
  }

  async get(accountId: string, factorId: string): Promise<FactorRecord | undefined> {
    return this.store.get<FactorRecord>(factorKey(accountId, factorId));
  }

  /** True when the account has at least one second factor (recovery codes alone count: they stand in for a lost one). */
  async hasAny(accountId: string): Promise<boolean> {
    return (await this.records(accountId)).length > 0;
  }

  /** Stores a new factor (or replaces the one with the same id): the record first, then its place in the index. */
  async add(accountId: string, record: FactorRecord): Promise<void> {
    await this.store.set(factorKey(accountId, record.id), record);
    await this.store.batch([{ op: 'mapSet', key: indexKey(accountId), field: record.id, value: record.createdAt }]);
  }

  /**
   * Records that a factor was just used, with its new state (TOTP lastStep, WebAuthn counter), in place and in one step:
   * false when the factor is gone, and a factor removed meanwhile (admin reset) is never written back.
   */
  async touch(accountId: string, factorId: string, fields: Partial<Pick<TotpRecord, 'lastStep'> & Pick<WebAuthnRecord, 'counter' | 'backedUp'>> = {}): Promise<boolean> {
    return this.store.assign(factorKey(accountId, factorId), { ...fields, lastUsedAt: this.now() });
  }

  /**
   * The account's WebAuthn user handle (256 random bits, base64url): made once, the same on every instance, and
   * never derived from the account id (WebAuthn section 14.6.1: no personal data in the handle).
   */
  async userHandle(accountId: string): Promise<string> {
    const existing = await this.store.get<string>(userHandleKey(accountId));
    if (existing) return existing;
    const fresh = randomBytes(32).toString('base64url');
    if (await this.store.setIfAbsent(userHandleKey(accountId), fresh, FOREVER_MS)) return fresh;
    return (await this.store.get<string>(userHandleKey(accountId))) ?? fresh;
  }

  /**
   * Removes one factor (and a passkey's credential-id claim, a recovery set's spent codes); false when the account had no
   * such factor. The record is taken atomically: of two removals at the same moment exactly one answers true.
   */
  async remove(accountId: string, factorId: string): Promise<boolean> {
    const record = await this.store.take<FactorRecord>(factorKey(accountId, factorId));
    if (!record) return false;
    await this.store.batch([{ op: 'mapDelete', key: indexKey(accountId), field: factorId }]);
    await companionCleanup(this.store, accountId, record);
    return true;
  }

  /** Removes every factor of the account (admin reset); answers how many there were. */
  async removeAll(accountId: string): Promise<number> {
    const records = await this.records(accountId);
    if (records.length > 0) await this.store.delete(...records.map((record) => factorKey(accountId, record.id)));
    await this.store.delete(indexKey(accountId));
    for (const record of records) await companionCleanup(this.store, accountId, record);
    return records.length;
  }
}

/** A user-given factor name: control and format characters dropped, trimmed, at most 64 characters; undefined when empty. */
export function cleanLabel(label: unknown): string | undefined {
  if (typeof label !== 'string') return undefined;
  const cleaned = label.slice(0, 256).replace(/[\p{Cc}\p{Cf}]/gu, '').trim().slice(0, 64);
  return cleaned === '' ? undefined : cleaned;
}
