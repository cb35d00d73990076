// Inbound OIDC Back-Channel Logout: a valid logout token from an upstream OP ends the broker sessions it names, once (jti replay cache), audited either way.
import { createHash } from 'node:crypto';
import { ConnectorError, isBackchannelLogoutConnector, type LogoutTokenClaims } from '../connectors/connector.js';
import type { BrokerContext } from '../context.js';
import type { FederatedSession } from '../session/federated-session.js';
import type { EndContext } from '../session/terminate.js';

const replayKey = (connectorId: string, jti: string) => `backchannel-jti:${createHash('sha256').update(`${connectorId}\u0000${jti}`).digest('base64url')}`;

/** The sessions a logout token names: the subject's (only the one with that sid when it names one), or the sid's. */
async function sessionsNamed(broker: Pick<BrokerContext, 'sessions'>, connectorId: string, claims: LogoutTokenClaims): Promise<FederatedSession[]> {
  if (!claims.sub) return broker.sessions.byUpstreamSid(connectorId, claims.sid!);
  const sessions = await broker.sessions.byUpstreamSubject(connectorId, claims.sub);
  return claims.sid === undefined ? sessions : sessions.filter((session) => session.identity.connectorData?.sid === claims.sid);
}

/**
 * Validates the logout token with the connector, refuses a replayed `jti`, ends the named sessions (reason
 * `upstream_logout`) and returns how many ended. Throws ConnectorError('invalid_logout_token') for anything invalid;
 * every outcome is audited as `upstream.backchannel_logout`.
 */
export async function handleBackchannelLogout(
  broker: Pick<BrokerContext, 'connectors' | 'sessions' | 'terminate' | 'auditor' | 'store' | 'now'>,
  connectorId: string,
  logoutToken: string,
  context: EndContext,
): Promise<number> {
  try {
    const connector = broker.connectors.get(connectorId);
    if (!connector || !isBackchannelLogoutConnector(connector)) throw new ConnectorError('not_found', `no OIDC connector ${connectorId.slice(0, 64)}`, { status: 404 });
    const claims = await connector.verifyLogoutToken(logoutToken);
    const ttlMs = Math.max(60_000, claims.expiresAt - broker.now() + 60_000);
    if (!(await broker.store.setIfAbsent(replayKey(connectorId, claims.jti), 1, ttlMs))) {
      throw new ConnectorError('invalid_logout_token', 'logout token replayed (jti already used)', { status: 400 });
    }
    let sessions: FederatedSession[];
    try {
      sessions = await sessionsNamed(broker, connectorId, claims);
      for (const session of sessions) await broker.terminate(session, 'upstream_logout', context);
    } catch (error) {
      // The store failed half-way: forget the jti so that the upstream's retry of the same token is not a replay.
      await broker.store.delete(replayKey(connectorId, claims.jti)).catch(() => undefined);
      throw error;
    }
    broker.auditor.record({ event: 'upstream.backchannel_logout', outcome: 'success', connectorId, ...context, details: { sessionsEnded: sessions.length } });
    return sessions.length;
  } catch (error) {
    const reason = error instanceof ConnectorError ? error.code : 'internal_error';
    const detail = error instanceof ConnectorError ? error.detail.slice(0, 200) : 'unexpected error';
    broker.auditor.record({ event: 'upstream.backchannel_logout', outcome: 'failure', reason, connectorId: connectorId.slice(0, 64), ...context, details: { detail } });
    throw error;
  }
}
