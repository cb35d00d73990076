// Upstream-initiated logout (SAML SLO): ends the broker sessions of an upstream subject, with their vault entries.
import type { BrokerContext } from '../context.js';
import type { EndSessionsInput } from '../connectors/saml.js';

export function endSessionsForUpstream(broker: BrokerContext) {
  return async function endSessions(input: EndSessionsInput): Promise<number> {
    const sessions = await broker.sessions.byUpstreamSubject(input.connectorId, input.nameId);
    const matching = sessions.filter((session) => !input.sessionIndex || session.identity.connectorData?.sessionIndex === input.sessionIndex);
    for (const session of matching) {
      await broker.vault.delete(session.id);
      await broker.sessions.end(session);
      broker.auditor.record({ event: 'session.ended', outcome: 'success', reason: 'upstream_logout', accountId: session.accountId, connectorId: session.connectorId });
    }
    return matching.length;
  };
}
