// Before a downstream refresh, confirms sessions with their upstreams (near token expiry, or after the re-verification interval); ends refused sessions.
import { ConnectorError, isRefreshableConnector, type Identity } from '../connectors/connector.js';
import type { Connector, RefreshableConnector } from '../connectors/connector.js';
import type { AccountRecord, FederatedSession, SessionRepository } from './federated-session.js';
import type { EndReason, TerminateSession } from './terminate.js';
import type { TokenVault } from './vault.js';
import { brokerClaims } from './account-claims.js';

/** Shaped like an oidc-provider error: the token endpoint answers 503 temporarily_unavailable (RFC 6749 section 5.2 spirit). */
export class UpstreamUnavailableError extends Error {
  override readonly name = 'UpstreamUnavailableError';
  readonly statusCode = 503;
  readonly expose = true;
  readonly error_description = 'the upstream identity provider could not confirm the session; try again later';
  constructor(cause: unknown) {
    super('temporarily_unavailable', { cause });
  }
}

/** Upstream answers that mean "this user's session is over" rather than "try again later". */
const SESSION_ENDING = new Set<string>(['upstream_revoked', 'upstream_subject_mismatch', 'refresh_unavailable', 'email_domain_not_allowed', 'email_not_verified'] satisfies EndReason[]);

export interface ReverifyDeps {
  sessions: SessionRepository;
  vault: TokenVault;
  connectors: Map<string, Connector>;
  terminate: TerminateSession;
  now: () => number;
  /** Confirm with the upstream (a refresh_token grant there) when it last answered longer ago than this. */
  reverifyIntervalMs: number;
}

/** Ends a session whose upstream refused it (or whose connector is gone); the caller counts it as not live. */
async function endSession(deps: ReverifyDeps, session: FederatedSession, reason: EndReason): Promise<false> {
  await deps.terminate(session, reason);
  return false;
}

/** Ends one session whose connector has left the configuration; false (not live) either way. */
async function endRemovedConnectorSession(deps: ReverifyDeps, accountId: string, id: string): Promise<false> {
  const session = await deps.sessions.get(accountId, id);
  return session ? endSession(deps, session, 'connector_removed') : false;
}

/** Confirms one session of a refreshable connector; false when it is gone or has just been ended. */
async function confirmSession(deps: ReverifyDeps, connector: RefreshableConnector, accountId: string, id: string): Promise<boolean> {
  const session = await deps.sessions.get(accountId, id);
  if (!session) return false;
  try {
    // Sessions without upstream tokens (no vault entry) have nothing to refresh: getFresh answers undefined.
    const fresh = await deps.vault.getFresh(session.id, connector, { ...session.identity }, { maxAgeMs: deps.reverifyIntervalMs });
    if (fresh?.refreshed) {
      // The upstream answered: the session is verified now, with the claims it just gave.
      const source: Identity = fresh.identity ?? session.identity;
      const { upstreamTokens: _tokens, ...identity } = source;
      await deps.sessions.save({ ...session, identity, lastVerifiedAt: deps.now() }, { accountId, connectorId: session.connectorId, claims: brokerClaims(identity), updatedAt: deps.now() });
    }
    return true;
  } catch (error) {
    if (error instanceof ConnectorError && SESSION_ENDING.has(error.code)) return endSession(deps, session, error.code as EndReason);
    throw error instanceof ConnectorError ? new UpstreamUnavailableError(error) : error;
  }
}

/**
 * Returns how many of the account's live sessions (`sessionIds`) are still live, confirming them all at once.
 * Every session of an account comes from the account's connector (the account id is derived from it). When that
 * connector is gone from the configuration, the sessions end; when it cannot refresh (local, SAML), they stand as
 * they are, without a read; otherwise each is confirmed with the upstream, which may refuse it (the session ends).
 * Transient upstream failures throw (the request fails, the session stays).
 */
export async function reverifyAccount(deps: ReverifyDeps, account: AccountRecord, sessionIds: readonly string[]): Promise<number> {
  const connector = deps.connectors.get(account.connectorId);
  if (connector && !isRefreshableConnector(connector)) return sessionIds.length;
  const confirmed = await Promise.all(
    sessionIds.map((id) => (connector ? confirmSession(deps, connector, account.accountId, id) : endRemovedConnectorSession(deps, account.accountId, id))),
  );
  return confirmed.filter(Boolean).length;
}
