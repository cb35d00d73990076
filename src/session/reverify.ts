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

/**
 * Returns how many live sessions the account still has. A session whose connector is gone from the configuration,
 * or whose upstream refuses its refresh token, ends here. Transient upstream failures throw (the request fails,
 * the session stays).
 */
export async function reverifyAccount(deps: ReverifyDeps, accountId: string): Promise<number> {
  let live = 0;
  for (const id of await deps.sessions.sessionsOf(accountId, deps.now())) {
    const session = await deps.sessions.get(accountId, id);
    if (!session) continue;
    const connector = deps.connectors.get(session.connectorId);
    const end = async (reason: string) => {
      await deps.vault.delete(session.id);
      await deps.sessions.end(session);
      deps.auditor.record({ event: 'session.ended', outcome: 'success', reason, accountId, connectorId: session.connectorId });
    };
    if (!connector) {
      await end('connector_removed');
      continue;
    }
    if (isRefreshableConnector(connector) && (await deps.vault.get(session.id))) {
      try {
        const fresh = await deps.vault.getFresh(session.id, connector, { ...session.identity }, { maxAgeMs: deps.reverifyIntervalMs });
        if (fresh?.refreshed) {
          // The upstream answered: the session is verified now, with the claims it just gave.
          const source: Identity = fresh.identity ?? session.identity;
          const { upstreamTokens: _tokens, ...identity } = source;
          await deps.sessions.save({ ...session, identity, lastVerifiedAt: deps.now() }, { accountId, connectorId: session.connectorId, claims: brokerClaims(identity), updatedAt: deps.now() });
        }
      } catch (error) {
        if (error instanceof ConnectorError && SESSION_ENDING.has(error.code)) {
          await end(error.code);
          continue;
        }
        throw error instanceof ConnectorError ? new UpstreamUnavailableError(error) : error;
      }
    }
    live += 1;
  }
  return live;
}
