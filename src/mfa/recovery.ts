// Recovery codes: a set of single-use codes of 140 random bits, shown once, stored as SHA-256 hashes, each spent atomically.
import { createHash, randomBytes } from 'node:crypto';
import { claimOnce, DEFAULT_LOST_CLAIM_WAIT_MS } from '../store/claim-once.js';
import type { KeyValueStore } from '../store/store.js';
import type { FactorAttempts } from './attempts.js';
import { recoverySpentKey, type CredentialRepository, type RecoveryRecord } from './credentials.js';
import type { Factor, FactorEnrolment, FactorFailure, FactorSubject, FactorVerification } from './factor.js';

/** Crockford base32: no I, L, O or U, so a code read off paper is not misread. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 28 characters of 5 bits: 140 bits, shown as 7 groups of 4. */
const CODE_CHARS = 28;
const GROUP = 4;
const MAX_ANSWER_LENGTH = 64;

export interface RecoveryEnrolmentStart {
  /** The codes, formatted for display (XXXX-XXXX-…). Shown once; the broker keeps only their hashes. */
  codes: string[];
}

export interface RecoveryAnswer {
  code: string;
}

export interface RecoveryOptions {
  store: KeyValueStore;
  credentials: CredentialRepository;
  attempts: FactorAttempts;
  codeCount: number;
  enrolmentTtlMs: number;
  maxFactorsPerAccount: number;
  now?: () => number;
}

interface PendingSet {
  hashes: string[];
}

const pendingKey = (subject: FactorSubject) => `mfa-recovery-pending:${subject.accountId}:${subject.interactionId}`;

/** A new code: 140 bits from the CSPRNG, in Crockford base32, grouped for reading. */
export function generateRecoveryCode(): string {
  const bytes = randomBytes(CODE_CHARS); // one byte per character, its low 5 bits used: uniform over the 32 symbols
  const chars = [...bytes].map((byte) => ALPHABET[byte & 31]).join('');
  return chars.match(new RegExp(`.{1,${GROUP}}`, 'g'))!.join('-');
}

/** The code as typed, in canonical form (upper case, no separators, Crockford's I/L -> 1 and O -> 0), or undefined when malformed. */
export function normaliseRecoveryCode(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > MAX_ANSWER_LENGTH) return undefined;
  const canonical = input.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  return canonical.length === CODE_CHARS && [...canonical].every((c) => ALPHABET.includes(c)) ? canonical : undefined;
}

/**
 * SHA-256, not a password hash: each code carries 140 random bits, so even with the store's contents nobody can search
 * for a code (2^140 guesses), whereas argon2 only slows the search of low-entropy secrets and would cost tens of ms of
 * CPU and memory on every recovery. The account id is hashed in, so equal hashes never link two accounts.
 */
export function hashRecoveryCode(accountId: string, canonicalCode: string): string {
  return createHash('sha256').update(`vestibule-recovery-v1\0${accountId}\0${canonicalCode}`).digest('base64url');
}

export class RecoveryCodesFactor implements Factor<RecoveryEnrolmentStart, Record<string, never>, Record<string, never>, RecoveryAnswer> {
  readonly kind = 'recovery' as const;
  readonly amr = ['otp'] as const;
  readonly phishingResistant = false;
  private readonly now: () => number;

  constructor(private readonly options: RecoveryOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A new set of codes, pending until finishEnrolment (the user confirms having saved them). */
  async startEnrolment(subject: FactorSubject): Promise<RecoveryEnrolmentStart> {
    const codes = Array.from({ length: this.options.codeCount }, generateRecoveryCode);
    const hashes = codes.map((code) => hashRecoveryCode(subject.accountId, normaliseRecoveryCode(code)!));
    await this.options.store.set(pendingKey(subject), { hashes } satisfies PendingSet, this.options.enrolmentTtlMs);
    return { codes };
  }

  /** Activates the pending set; it replaces the account's previous set, whose unused codes stop working. */
  async finishEnrolment(subject: FactorSubject): Promise<FactorEnrolment> {
    const records = await this.options.credentials.records(subject.accountId);
    const previous = records.filter((record) => record.kind === 'recovery');
    if (previous.length === 0 && records.length >= this.options.maxFactorsPerAccount) return fail('limit_reached');
    const pending = await this.options.store.take<PendingSet>(pendingKey(subject));
    if (!pending) return fail('no_challenge');
    const id = this.options.credentials.newId();
    await this.options.store.set(recoverySpentKey(subject.accountId, id), {});
    const record: RecoveryRecord = { id, kind: 'recovery', label: 'Recovery codes', createdAt: this.now(), hashes: pending.hashes };
    await this.options.credentials.add(subject.accountId, record);
    for (const old of previous) await this.options.credentials.remove(subject.accountId, old.id);
    return { ok: true, factorId: id, kind: 'recovery' };
  }

  async startVerification(): Promise<Record<string, never>> {
    return {};
  }

  /** Accepts an unspent code of the account's set, once: of two concurrent uses of one code exactly one wins. */
  async finishVerification(subject: FactorSubject, answer: RecoveryAnswer): Promise<FactorVerification> {
    const code = normaliseRecoveryCode(answer?.code);
    if (!code) return fail('malformed');
    const sets = await this.options.credentials.ofKind(subject.accountId, 'recovery');
    if (sets.length === 0) return fail('no_factor');
    if (!(await this.options.attempts.begin(subject.accountId))) return fail('too_many_attempts');
    const hash = hashRecoveryCode(subject.accountId, code);
    const set = sets.find((record) => record.hashes.includes(hash));
    if (!set) return fail('invalid');
    // A claim whose answer the store lost is read back (claimOnce): the user is not told "used" for their own use.
    const claim = await claimOnce(this.options.store, recoverySpentKey(subject.accountId, set.id), hash, this.now(), { markField: `${hash}:by`, waitMs: DEFAULT_LOST_CLAIM_WAIT_MS });
    if (claim !== 'won') return fail(claim === 'taken' ? 'replayed' : 'no_factor');
    if (!(await this.options.credentials.touch(subject.accountId, set.id))) return fail('no_factor');
    await this.options.attempts.succeeded(subject.accountId);
    return { ok: true, factorId: set.id, kind: 'recovery', amr: ['otp'], phishingResistant: false };
  }

  /** Codes of the account's set not yet spent (0 when it has none): the page suggests a new set when few remain. */
  async remaining(accountId: string): Promise<number> {
    const [set] = await this.options.credentials.ofKind(accountId, 'recovery');
    if (!set) return 0;
    const spent = (await this.options.store.get<Record<string, unknown>>(recoverySpentKey(accountId, set.id))) ?? {};
    return set.hashes.filter((hash) => !(hash in spent)).length;
  }
}

const fail = (reason: FactorFailure['reason']): FactorFailure => ({ ok: false, reason });
