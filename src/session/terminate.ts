// The one way a federated session ends: its grants revoked (every code and token dies at once), its vault entry emptied, the record gone, audited, its clients told (back-channel logout).
import type { Auditor } from '../audit/auditor.js';
import type { FederatedSession, SessionRepository } from './federated-session.js';
import type { GrantBindings } from './grant-bindings.js';
import type { TokenVault } from './vault.js';

/** Why a session ended (the audit record's `reason`). */
export type EndReason =
  | 'logout'
  | 'upstream_logout'
  | 'replaced'
  | 'connector_removed'
  | 'upstream_revoked'
  | 'upstream_subject_mismatch'
  | 'refresh_unavailable'
  | 'email_domain_not_allowed'
  | 'email_not_verified'
  /** Re-verification: the session's upstream tokens cannot be decrypted with any of vaultKeys (tampered, or a key retired too early). */
  | 'upstream_tokens_unreadable'
  /** Re-verification: the upstream stayed unreachable for longer than the grace period. */
  | 'upstream_unreachable'
  /** The upstream refused the browser round trip of a re-verification (SAML NoPassive or another non-success status, or another subject). */
  | 'upstream_reauth_failed'
  /** A session marked for re-authentication at its upstream saw no browser round trip within its grace. */
  | 'upstream_reauth_timeout'
  /** The upstream's own session ended (SAML SessionNotOnOrAfter). */
  | 'upstream_session_expired'
  /** The account is gone from the connector, or its password changed (local accounts). */
  | 'account_removed'
  /** An administrator's `vestibule sessions revoke`. */
  | 'admin_revoked'
  /** `vestibule accounts lock`. */
  | 'account_locked'
  /** A high-risk sign-in or authorization (risk engine): every session of the account ends. */
  | 'high_risk'
  /** The upstream said the user's credentials changed (CAEP credential-change). */
  | 'credential_change'
  /** The upstream lowered the session's assurance or its device's compliance (CAEP), and policy says end rather than step up. */
  | 'upstream_trust_lowered';

/** Who asked, for the audit trail (absent for background work). */
export interface EndContext {
  ip?: string;
  requestId?: string;
}

export interface TerminateDeps {
  sessions: SessionRepository;
  bindings: GrantBindings;
  vault: Pick<TokenVault, 'delete'>;
  auditor: Pick<Auditor, 'record'>;
  /** Revokes one oidc-provider grant: the grant and every code, access token and refresh token issued under it. */
  revokeGrant(grantId: string): Promise<void>;
  /** Tells the session's clients it ended (Back-Channel Logout); must not throw, delivery may continue in the background. */
  notifyClients?(session: FederatedSession, grantIds: readonly string[], reason: EndReason): Promise<void>;
}

export type TerminateSession = (session: FederatedSession, reason: EndReason, context?: EndContext) => Promise<void>;

/**
 * Builds terminate(). Grants are revoked before the record goes: if the store fails half-way, the session is still
 * there to be ended again, and meanwhile findAccount and introspection refuse any grant whose session is gone.
 */
export function createTerminator(deps: TerminateDeps): TerminateSession {
  return async function terminate(session, reason, context = {}) {
    const grantIds = await deps.bindings.grantsOf(session.accountId, session.id);
    await Promise.all(grantIds.map((grantId) => deps.revokeGrant(grantId)));
    await deps.vault.delete(session.id);
    await deps.sessions.end(session, deps.bindings.forgetOps(session.accountId, session.id, grantIds));
    deps.auditor.record({
      event: 'session.ended',
      outcome: 'success',
      reason,
      accountId: session.accountId,
      connectorId: session.connectorId,
      ...context,
      details: { sessionId: session.id, grantsRevoked: grantIds.length },
    });
    await deps.notifyClients?.(session, grantIds, reason);
  };
}

/** Ends every live session of the account through terminate() (admin revoke and lock, high risk); returns their ids. */
export async function endAccountSessions(
  deps: { sessions: Pick<SessionRepository, 'sessionsOf' | 'get'>; terminate: TerminateSession },
  accountId: string,
  reason: EndReason,
  context?: EndContext,
): Promise<string[]> {
  const ended: string[] = [];
  for (const id of await deps.sessions.sessionsOf(accountId)) {
    const session = await deps.sessions.get(accountId, id);
    if (!session) continue;
    await deps.terminate(session, reason, context);
    ended.push(id);
  }
  return ended;
}
