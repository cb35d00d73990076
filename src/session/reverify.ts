// Before a downstream refresh, confirms the account's sessions with their upstreams (near token expiry, or after the re-verification interval); ends refused sessions.
import { ConnectorError, isRefreshableConnector, type Identity } from '../connectors/connector.js';
import type { Auditor } from '../audit/auditor.js';
import type { Connector } from '../connectors/connector.js';
import type { SessionRepository } from './federated-session.js';
import type { TokenVault } from './vault.js';
import { brokerClaims } from '../federation/claims.js';

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
const SESSION_ENDING = new Set(['upstream_revoked', 'upstream_subject_mismatch', 'refresh_unavailable', 'email_domain_not_allowed', 'email_not_verified']);

export interface ReverifyDeps {
  sessions: SessionRepository;
  vault: TokenVault;
  connectors: Map<string, Connector>;
  auditor: Auditor;
  now: () => number;
  /** Confirm with the upstream (a refresh_token grant there) when it last answered longer ago than this. */
  reverifyIntervalMs: number;
}

/** Confirms one session; false when it is gone or has just been ended. */
async function confirmSession(deps: ReverifyDeps, accountId: string, id: string): Promise<boolean> {
  const session = await deps.sessions.get(accountId, id);
  if (!session) return false;
  const end = async (reason: string) => {
    await deps.vault.delete(session.id);
    await deps.sessions.end(session);
    deps.auditor.record({ event: 'session.ended', outcome: 'success', reason, accountId, connectorId: session.connectorId });
    return false;
  };
  const connector = deps.connectors.get(session.connectorId);
  if (!connector) return end('connector_removed');
  if (!isRefreshableConnector(connector)) return true;
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
    if (error instanceof ConnectorError && SESSION_ENDING.has(error.code)) return end(error.code);
    throw error instanceof ConnectorError ? new UpstreamUnavailableError(error) : error;
  }
}

/**
 * Returns how many live sessions the account still has, confirming them all at once. A session whose connector is
 * gone from the configuration, or whose upstream refuses its refresh token, ends here. Transient upstream failures
 * throw (the request fails, the session stays).
 */
export async function reverifyAccount(deps: ReverifyDeps, accountId: string): Promise<number> {
  const ids = await deps.sessions.sessionsOf(accountId, deps.now());
  const confirmed = await Promise.all(ids.map((id) => confirmSession(deps, accountId, id)));
  return confirmed.filter(Boolean).length;
}
