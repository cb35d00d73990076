// The Factor interface every second factor implements (TOTP, WebAuthn, recovery codes): enrol, verify, what it proves.
import type { AmrValue } from './assurance.js';

export type FactorKind = 'totp' | 'webauthn' | 'recovery';

/** Who is enrolling or verifying, and in which sign-in: challenges and pending enrolments are bound to both. */
export interface FactorSubject {
  accountId: string;
  /** The oidc-provider interaction uid (or another id of the sign-in) the ceremony belongs to. */
  interactionId: string;
  /** Shown in authenticator apps and passkey pickers (the account's email or name); never used as an id. */
  displayName?: string;
}

/** Why a verification or an enrolment was refused: for logs and the audit trail; users see one safe message. */
export type FactorFailureReason =
  /** Not the shape the factor expects (wrong length, characters, JSON). */
  | 'malformed'
  /** Well-formed but wrong (code, signature, origin, challenge mismatch). */
  | 'invalid'
  /** Accepted once already (TOTP time step, recovery code, WebAuthn challenge). */
  | 'replayed'
  /** No challenge or pending enrolment for this account and interaction (never started, expired or used). */
  | 'no_challenge'
  /** The account has no factor of this kind (or not the credential the response names). */
  | 'no_factor'
  /** A WebAuthn signature counter went backwards: a cloned authenticator. */
  | 'counter_regression'
  /** The account already holds the most factors allowed. */
  | 'limit_reached'
  /** Too many wrong answers in the window (FactorAttempts): refused without checking, until the window ends. */
  | 'too_many_attempts';

export type FactorFailure = { ok: false; reason: FactorFailureReason; detail?: string };

/** A verified factor: what goes into the session's amr, and whether it raises acr to phishing-resistant. */
export interface FactorSuccess {
  ok: true;
  factorId: string;
  kind: FactorKind;
  amr: AmrValue[];
  phishingResistant: boolean;
}

export type FactorVerification = FactorSuccess | FactorFailure;

/** An enrolled factor: its id in the credential repository. */
export interface FactorEnrolled {
  ok: true;
  factorId: string;
  kind: FactorKind;
}

export type FactorEnrolment = FactorEnrolled | FactorFailure;

/**
 * One second factor. Each ceremony is start (answers what the page shows or the browser API needs) then finish (the
 * user's answer). Callers must check the enrolment gate (enrolment-gate.ts) before startEnrolment.
 */
export interface Factor<EnrolStart = unknown, EnrolAnswer = unknown, VerifyStart = unknown, VerifyAnswer = unknown> {
  readonly kind: FactorKind;
  /** RFC 8176 amr values a verification of this factor yields (WebAuthn: hwk or swk, per credential). */
  readonly amr: readonly AmrValue[];
  /** True when the factor is bound to the broker's origin (WebAuthn): it earns ACR_PHISHING_RESISTANT. */
  readonly phishingResistant: boolean;
  startEnrolment(subject: FactorSubject): Promise<EnrolStart>;
  finishEnrolment(subject: FactorSubject, answer: EnrolAnswer): Promise<FactorEnrolment>;
  startVerification(subject: FactorSubject): Promise<VerifyStart>;
  finishVerification(subject: FactorSubject, answer: VerifyAnswer): Promise<FactorVerification>;
}
