// Builds each connector's circuit breaker for this instance and reports its transitions: a log line, an audit event, a gauge.
import type { Logger } from 'pino';
import type { AuditInput } from '../audit/auditor.js';
import { CircuitBreaker, type CircuitSettings, type CircuitState } from './circuit-breaker.js';

export interface CircuitReportDeps {
  settings: CircuitSettings;
  now: () => number;
  logger: Logger;
  audit: (event: AuditInput) => void;
  /** Sets the connector's state gauge (vestibule_upstream_circuit_state). */
  setState: (connectorId: string, state: CircuitState) => void;
}

/** One breaker per connector id, in memory: each instance judges the upstream over its own network path. */
export function circuitBreakers(deps: CircuitReportDeps): (connectorId: string) => CircuitBreaker {
  return (connectorId) => {
    deps.setState(connectorId, 'closed');
    return new CircuitBreaker(connectorId, deps.settings, deps.now, (transition) => {
      deps.setState(connectorId, transition.to);
      const facts = { from: transition.from, to: transition.to, failures: transition.failures };
      if (transition.to === 'open') deps.logger.warn({ connectorId, reason: transition.reason, ...facts }, 'upstream circuit opened: calls fail fast until a probe succeeds');
      else deps.logger.info({ connectorId, reason: transition.reason, ...facts }, `upstream circuit ${transition.to}`);
      deps.audit({
        event: 'upstream.circuit',
        outcome: transition.to === 'open' ? 'failure' : 'success',
        connectorId,
        reason: transition.reason,
        details: facts,
      });
    });
  };
}
