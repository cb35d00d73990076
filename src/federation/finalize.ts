// The one place that turns an upstream Identity into a broker login: account id, session record, vault and audit.
import type { Identity } from '../connectors/connector.js';
import { accountIdFor } from '../connectors/claims.js';
import type { BrokerContext } from '../context.js';
import { newSessionId } from '../session/federated-session.js';
import { brokerClaims } from './claims.js';
import type { PendingLogin } from './transactions.js';

export interface FinalizeRequest {
  clientId: string;
  ip: string;
  requestId: string;
}

export async function finalizeLogin(broker: BrokerContext, identity: Identity, request: FinalizeRequest): Promise<PendingLogin> {
  const now = broker.now();
  const accountId = accountIdFor(identity.connectorId, identity.subject);
  const sessionId = newSessionId();
  const { upstreamTokens, ...storedIdentity } = identity;
  await broker.sessions.save(
    { id: sessionId, accountId, connectorId: identity.connectorId, identity: storedIdentity, createdAt: now, lastVerifiedAt: now },
    { accountId, connectorId: identity.connectorId, claims: brokerClaims(identity), updatedAt: now },
  );
  if (upstreamTokens) await broker.vault.save(sessionId, identity.connectorId, upstreamTokens);
  const pending: PendingLogin = {
    accountId,
    acr: identity.acr,
    amr: identity.amr,
    ts: identity.authTime ?? Math.floor(now / 1000),
    sessionId,
  };
  broker.auditor.record({
    event: 'login.success',
    outcome: 'success',
    accountId,
    clientId: request.clientId,
    connectorId: identity.connectorId,
    ip: request.ip,
    requestId: request.requestId,
  });
  return pending;
}
