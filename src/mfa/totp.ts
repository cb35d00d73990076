// TOTP (RFC 6238) with otpauth: 6 digits, 30 s, SHA-1 for authenticator apps; each code accepted once, atomically in the store.
import { Secret, TOTP } from 'otpauth';
import type { KeyValueStore } from '../store/store.js';
import type { FactorAttempts } from './attempts.js';
import { cleanLabel, totpSecretBinding, type CredentialRepository, type FactorRecord, type TotpRecord } from './credentials.js';
import type { Factor, FactorEnrolment, FactorFailure, FactorSubject, FactorVerification } from './factor.js';
import { qrSvg } from './qr.js';

export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** SHA-1: the only algorithm every authenticator app honours (RFC 6238 allows SHA-256/512, many apps ignore it). */
export const TOTP_ALGORITHM = 'SHA1';
/** 160-bit secrets, as RFC 4226 section 4 recommends. */
const SECRET_BYTES = 20;
/** Anything longer is refused before it is looked at. */
const MAX_ANSWER_LENGTH = 32;

export interface TotpEnrolmentStart {
  /** The secret in base32, for typing into an app that cannot scan. Shown once; never logged. */
  secret: string;
  /** otpauth://totp/… key URI (the QR code's content). */
  uri: string;
  /** The URI as an SVG QR code (qr.ts), safe to embed. */
  qrSvg: string;
}

export interface TotpEnrolAnswer {
  /** The first code from the app: proves it holds the secret. */
  code: string;
  /** A name for the factor (default "Authenticator app"). */
  label?: string;
}

export interface TotpAnswer {
  code: string;
}

export interface TotpOptions {
  store: KeyValueStore;
  credentials: CredentialRepository;
  attempts: FactorAttempts;
  /** Name authenticator apps show (mfa.issuerName or the product name). */
  issuerName: string;
  /** Steps accepted either side of the current one. */
  window: number;
  enrolmentTtlMs: number;
  maxFactorsPerAccount: number;
  now?: () => number;
}

interface PendingEnrolment {
  /** The secret sealed with the vault keys, bound to account and interaction. */
  secret: ReturnType<CredentialRepository['keyRing']['seal']>;
}

const pendingKey = (subject: FactorSubject) => `mfa-totp-pending:${subject.accountId}:${subject.interactionId}`;
const pendingBinding = (subject: FactorSubject) => `mfa-totp-pending\0${subject.accountId}\0${subject.interactionId}`;
const usedStepKey = (accountId: string, factorId: string, step: number) => `mfa-totp-used:${accountId}:${factorId}:${step}`;

/** The digits of a code as typed (spaces allowed between groups), or undefined when it is not a 6-digit code. */
export function normaliseTotpCode(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > MAX_ANSWER_LENGTH) return undefined;
  const digits = input.replace(/[\s-]/g, '');
  return new RegExp(`^[0-9]{${TOTP_DIGITS}}$`).test(digits) ? digits : undefined;
}

export class TotpFactor implements Factor<TotpEnrolmentStart, TotpEnrolAnswer, Record<string, never>, TotpAnswer> {
  readonly kind = 'totp' as const;
  readonly amr = ['otp'] as const;
  readonly phishingResistant = false;
  private readonly now: () => number;

  constructor(private readonly options: TotpOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A fresh secret for this account and sign-in, kept (sealed) until finishEnrolment or enrolmentTtlMs. */
  async startEnrolment(subject: FactorSubject): Promise<TotpEnrolmentStart> {
    const secret = new Secret({ size: SECRET_BYTES }).base32;
    const { keyRing } = this.options.credentials;
    await this.options.store.set(pendingKey(subject), { secret: keyRing.seal(pendingBinding(subject), secret) } satisfies PendingEnrolment, this.options.enrolmentTtlMs);
    const uri = this.totp(secret, subject.displayName ?? subject.accountId).toString();
    return { secret, uri, qrSvg: await qrSvg(uri, `QR code: ${this.options.issuerName}`) };
  }

  /** Checks the first code against the pending secret; on success the factor is stored and that code is spent. */
  async finishEnrolment(subject: FactorSubject, answer: TotpEnrolAnswer): Promise<FactorEnrolment> {
    const code = normaliseTotpCode(answer?.code);
    if (!code) return fail('malformed');
    const pending = await this.options.store.get<PendingEnrolment>(pendingKey(subject));
    const secret = pending && this.options.credentials.keyRing.open(pendingBinding(subject), pending.secret);
    if (!secret) return fail('no_challenge');
    if (!(await this.options.attempts.begin(subject.accountId))) return fail('too_many_attempts');
    const step = this.matchingStep(secret, code);
    if (step === undefined) return fail('invalid');
    if ((await this.options.credentials.records(subject.accountId)).length >= this.options.maxFactorsPerAccount) return fail('limit_reached');
    // Of two concurrent finishes of one enrolment, one takes the pending secret; the other finds nothing.
    if (!(await this.options.store.take(pendingKey(subject)))) return fail('no_challenge');
    const id = this.options.credentials.newId();
    if (!(await this.spendStep(subject.accountId, id, step))) return fail('replayed');
    const record: TotpRecord = {
      id,
      kind: 'totp',
      label: cleanLabel(answer.label) ?? 'Authenticator app',
      createdAt: this.now(),
      secret: this.options.credentials.keyRing.seal(totpSecretBinding(subject.accountId, id), secret),
      lastStep: step,
    };
    await this.options.credentials.add(subject.accountId, record);
    await this.options.attempts.succeeded(subject.accountId);
    return { ok: true, factorId: id, kind: 'totp' };
  }

  /** Nothing to send: the app already shows the code. */
  async startVerification(): Promise<Record<string, never>> {
    return {};
  }

  /**
   * Accepts a code of any of the account's TOTP factors, once: a second use of its time step is refused, even at the same
   * moment. `factors`: the account's factors as the caller is already reading them (CredentialRepository.records).
   */
  async finishVerification(subject: FactorSubject, answer: TotpAnswer, factors?: Promise<readonly FactorRecord[]>): Promise<FactorVerification> {
    const code = normaliseTotpCode(answer?.code);
    if (!code) return fail('malformed');
    // The answer is counted while the factors are read (one store round trip): still before the code is checked.
    const [all, allowed] = await Promise.all([factors ?? this.options.credentials.records(subject.accountId), this.options.attempts.begin(subject.accountId)]);
    const records = all.filter((record): record is TotpRecord => record.kind === 'totp');
    if (records.length === 0) return fail('no_factor');
    if (!allowed) return fail('too_many_attempts');
    for (const record of records) {
      const secret = this.options.credentials.keyRing.open(totpSecretBinding(subject.accountId, record.id), record.secret);
      const step = secret === undefined ? undefined : this.matchingStep(secret, code);
      if (step === undefined) continue;
      // RFC 6238 section 5.2: a code is accepted once; a step older than the newest accepted one is spent too.
      if (record.lastStep !== undefined && step <= record.lastStep) return fail('replayed');
      // The step is spent, the factor's newest step recorded and the answers' count given back together (one round trip);
      // the spend decides, atomically. The count goes back even when the spend loses: a code of the factor's secret is no
      // guess (the race's winner knew the same code). A factor removed meanwhile (admin reset) is not brought back (touch
      // answers false), and its code does not count.
      const [spent, touched] = await Promise.all([
        this.spendStep(subject.accountId, record.id, step),
        this.options.credentials.touch(subject.accountId, record.id, { lastStep: Math.max(step, record.lastStep ?? step) }),
        this.options.attempts.succeeded(subject.accountId),
      ]);
      if (!spent) return fail('replayed');
      if (!touched) return fail('no_factor');
      return { ok: true, factorId: record.id, kind: 'totp', amr: ['otp'], phishingResistant: false };
    }
    return fail('invalid');
  }

  /** Key URI format: neither the issuer nor the account may contain ":" (apps split the label on it). */
  private totp(secret: string, label: string): TOTP {
    return new TOTP({
      issuer: this.options.issuerName.replace(/:/g, ' '),
      label: label.replace(/:/g, ' '),
      algorithm: TOTP_ALGORITHM,
      digits: TOTP_DIGITS,
      period: TOTP_PERIOD_SECONDS,
      secret: Secret.fromBase32(secret),
    });
  }

  /** The time step the code belongs to, within the window around now; undefined when it matches none. */
  private matchingStep(secret: string, code: string): number | undefined {
    const timestamp = this.now();
    const delta = this.totp(secret, 'verify').validate({ token: code, timestamp, window: this.options.window });
    return delta === null ? undefined : TOTP.counter({ period: TOTP_PERIOD_SECONDS, timestamp }) + delta;
  }

  /** Marks the step used for this factor, atomically: true for the one caller that got there first. */
  private spendStep(accountId: string, factorId: string, step: number): Promise<boolean> {
    const ttlMs = (2 * this.options.window + 2) * TOTP_PERIOD_SECONDS * 1000;
    return this.options.store.setIfAbsent(usedStepKey(accountId, factorId, step), 1, ttlMs);
  }
}

const fail = (reason: FactorFailure['reason']): FactorFailure => ({ ok: false, reason });

