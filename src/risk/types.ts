// The risk engine's data: what the integrator hands in (plain request facts), what each signal reports, and the decision that comes back.
import type { SignalName } from '../config/risk.js';

export type { SignalName } from '../config/risk.js';

export type RiskLevel = 'low' | 'medium' | 'high';
export type RiskAction = 'allow' | 'step_up' | 'deny';
/** sign-in: a new authentication; authorization: an existing session reused (prompt=none, SSO); refresh: a refresh grant. */
export type RiskPhase = 'sign-in' | 'authorization' | 'refresh';

/** Plain facts the integrator extracts from the request; no Koa objects, no secrets. */
export interface RiskInput {
  phase: RiskPhase;
  clientId: string;
  accountId: string;
  connectorId: string;
  /** The client address as the trustProxy setting computed it (ctx.ip). */
  ip: string;
  userAgent?: string;
  /** The device id from a verified device cookie (readDeviceCookie), if the browser sent a valid one. */
  deviceId?: string;
  /** Raw value of the posture header (risk.posture.header), if present. */
  postureHeader?: string;
  /** True when the TCP peer is a trusted proxy (fromTrustedProxy): only then is the posture header believed. */
  fromTrustedProxy: boolean;
  /** What the upstream said about its authentication. */
  upstreamAcr?: string;
  upstreamAmr?: readonly string[];
  groups?: readonly string[];
  /** Scopes the request asks for (access-policy destinations). */
  scopes?: readonly string[];
  /** The acr this session already has (urn:vestibule:acr:*), if any. */
  sessionAcr?: string;
  /** The broker acr the client asked for (acr_values / claims), if any. */
  requestedAcr?: string;
  /** When a second factor was last verified in this session (ms since epoch). */
  mfaVerifiedAt?: number;
  /** The request's id (audit). */
  requestId?: string;
  /** ms since epoch; default the engine's clock. */
  now?: number;
}

/** What a signal module reports: it fired, with a short non-secret fact. */
export interface SignalHit {
  signal: SignalName;
  detail?: string;
}

/** One signal that fired, with the points it added and a short non-secret fact ("10.1.0.0/16", "3 failures"). */
export interface ContributingSignal {
  signal: SignalName;
  weight: number;
  detail?: string;
}

/** A sign-in origin for the smart lockout: a device this account already used, or any other. */
export type LoginOrigin = 'familiar' | 'unfamiliar';

/** Why a request was refused: the safe code shown to the user (the audit has the rule). */
export type DenyReason = 'high_risk' | 'access_denied' | 'account_locked' | 'sign_in_locked';

/** Why a second factor is needed. */
export type StepUpCause = 'risk' | 'client_policy' | 'acr_values' | 'lockout';

export interface RiskDecision {
  level: RiskLevel;
  /** 0-100. */
  score: number;
  signals: ContributingSignal[];
  action: RiskAction;
  /** What decided, for the audit: "score", "policy:<rule>", "policy:default_deny", "lock:<reason>", "lockout:familiar_step_up", "step_up:satisfied". */
  rule: string;
  /** Set when action is 'deny'. */
  reason?: DenyReason;
  /** The acr this request needs (urn:vestibule:acr:mfa or stronger) when a factor is required; undefined when the session's is enough. */
  requiredAcr?: string;
  /** True when a second factor must be verified before this request goes on (action 'step_up'). */
  mfaRequired: boolean;
  stepUpCauses: StepUpCause[];
  /** The upstream did MFA (its amr/acr, mapped per provider): counts as a verified second factor. */
  upstreamMfa: boolean;
  /** RFC 8176 amr values mapped from the upstream's (for the ID token). */
  upstreamAmr: string[];
  /** A factor may be enrolled after this request: low risk, or the upstream did MFA (an existing factor also allows it; the MFA module checks that). */
  enrolmentAllowed: boolean;
  device: {
    /** This browser's device id: the cookie's, or a new one to issue (issueDeviceCookie) when `issue` is true. */
    id: string;
    /** This account used this browser before. */
    known: boolean;
    issue: boolean;
  };
  origin: LoginOrigin;
  /** Set when high risk was acted on (evaluate does it): sessions ended, account locked until then. */
  highRisk?: { sessionsEnded: number; lockedUntil: number };
}

/** The smart-lockout state of an account for one origin. */
export interface LockoutState {
  /** Sign-in from this origin is refused (a full account lock refuses every origin). */
  locked: boolean;
  /** Which lock: the whole account (admin, high risk: tokens refused too) or sign-in from this origin (smart lockout). */
  kind?: 'account' | 'sign-in';
  /** Not locked, but the other origin is: a familiar device signs in only with a second factor. */
  stepUp: boolean;
  /** When the lock that applies ends (ms since epoch); absent: until unlocked. */
  until?: number;
  /** The lock's reason (audit, admin). */
  reason?: string;
}

/** What recordFailedSignIn found. */
export interface FailureOutcome {
  /** Failures of this origin within the lockout window, this one included. */
  failures: number;
  /** This failure locked the origin. */
  lockedNow: boolean;
  state: LockoutState;
}
