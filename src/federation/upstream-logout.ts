// Upstream-initiated logout (SAML SLO): ends the broker sessions of an upstream subject (and SessionIndex) through terminate().
import type { BrokerContext } from '../context.js';
import type { EndSessionsInput } from '../connectors/saml.js';
import type { EndContext } from '../session/terminate.js';

export function endSessionsForUpstream(broker: BrokerContext) {
  return async function endSessions(input: EndSessionsInput, context: EndContext = {}): Promise<number> {
    const sessions = await broker.sessions.byUpstreamSubject(input.connectorId, input.nameId);
    const matching = sessions.filter((session) => !input.sessionIndex || session.identity.connectorData?.sessionIndex === input.sessionIndex);
    await Promise.all(matching.map((session) => broker.terminate(session, 'upstream_logout', context)));
    return matching.length;
  };
}
