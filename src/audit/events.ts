// The AuditEvent union: every security-relevant outcome the broker records. Never carries tokens, secrets or passwords.

export type AuditOutcome = 'success' | 'failure';

export type AuditEventName =
  | 'login.success'
  | 'login.failure'
  | 'consent.granted'
  | 'token.issued'
  | 'token.refreshed'
  | 'token.revoked'
  | 'logout'
  | 'upstream.callback.rejected'
  | 'upstream.token.refreshed'
  | 'upstream.token.refresh_failed'
  | 'saml.logout'
  | 'session.ended'
  | 'session.reverified'
  | 'account.locked'
  | 'account.unlocked'
  | 'keys.rotated'
  | 'backchannel.logout'
  | 'upstream.backchannel_logout'
  /** This instance's circuit of an upstream changed (reason: failures, cooldown_elapsed, probe_succeeded, probe_failed; details: from, to). */
  | 'upstream.circuit'
  | 'config.reloaded'
  /** Client registration (RFC 7591, admin command line), update and deletion (RFC 7592); failures carry the RFC 7591 code or token refusal. */
  | 'client.registered'
  | 'client.updated'
  | 'client.deleted'
  /** A Client ID Metadata Document could not be fetched or was refused (reason). */
  | 'client.metadata_document'
  /** A second factor was verified (step-up) or refused (reason: invalid, replayed, …). */
  | 'mfa.verified'
  /** A second factor was enrolled (details.kind), or an enrolment was refused. */
  | 'mfa.enrolled'
  /** Second factors were removed (reason: admin; details: removed count, factorId when one), by an admin or on the account security page. */
  | 'mfa.removed'
  /** A new recovery-code set replaced the old one on the account security page (or a regeneration was refused: reason). */
  | 'mfa.recovery_regenerated'
  /** Every risk decision: level, score, signals, rule, action (src/risk). */
  | 'risk.evaluated'
  /** High risk acted on: sessions ended, account locked (level error, details.severity "high"); goes to the SOAR webhook. */
  | 'risk.high'
  /** Smart lockout locked sign-in from one origin; goes to the SOAR webhook. */
  | 'risk.lockout'
  /** Outcome of a SOAR webhook delivery. */
  | 'risk.webhook'
  /** A Security Event Token from an upstream transmitter (SSF/CAEP): applied (details: event, sessions) or refused (reason). */
  | 'ssf.received'
  /** A Security Event Token pushed to a client's stream: delivered, or given up after the retries. */
  | 'ssf.delivered'
  /** A client created, changed or deleted its SSF stream, or a stream request was refused. */
  | 'ssf.stream';

export type AuditLevel = 'info' | 'warn' | 'error';

/** Severity order, for sinks that take events at or above a level. */
export const AUDIT_LEVELS: readonly AuditLevel[] = ['info', 'warn', 'error'];

export interface AuditEvent {
  /** ISO 8601 timestamp. */
  timestamp: string;
  level: AuditLevel;
  event: AuditEventName;
  outcome: AuditOutcome;
  accountId?: string;
  ip?: string;
  clientId?: string;
  connectorId?: string;
  /** Machine-readable reason for a failure (e.g. `invalid_credentials`, `state_mismatch`). */
  reason?: string;
  requestId?: string;
  /** Short, non-secret extra facts (grant type, number of assertions...). */
  details?: Record<string, string | number | boolean>;
}

/** An event as written: linked into its instance's hash chain (see chain.ts). */
export interface AuditRecord extends AuditEvent {
  /** The chain: the broker instance's name and a random id of this process start ("sso-1.3f9c2a1b"). */
  instance: string;
  /** Position in the chain, from 0. */
  seq: number;
  /** `hash` of the previous record of the chain (64 zeros for seq 0). */
  prev: string;
  /** SHA-256 (hex) of the record's canonical JSON without `hash`. */
  hash: string;
}

/** Where audit records go (stdout, a rotating file, a Redis stream, a webhook). `line` is the record's canonical JSON. */
export interface AuditSink {
  write(record: AuditRecord, line: string): void | Promise<void>;
  close?(): Promise<void>;
}
