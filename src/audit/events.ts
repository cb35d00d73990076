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
  | 'config.reloaded';

export interface AuditEvent {
  /** ISO 8601 timestamp. */
  timestamp: string;
  level: 'info' | 'warn' | 'error';
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

/** Where audit records go (JSON lines on a stream, a Redis stream, ...). */
export interface AuditSink {
  write(event: AuditEvent): void | Promise<void>;
  close?(): Promise<void>;
}
