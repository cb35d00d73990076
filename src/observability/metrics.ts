// The broker's Prometheus registry and its named series; other modules increment these (rate limits: `rateLimited`).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { samlPoolStats } from '../connectors/saml-worker-pool.js';

/** Seconds; upstream IdPs answer in milliseconds to seconds. */
const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds; a store operation is a Redis round trip (sub-millisecond to a few ms). */
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];

/**
 * Every series the broker exports. Label values come from configuration (connector and client ids), from the code
 * (reasons, operations, grant types) or are "other": never account ids, addresses or strings a client sent.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Sign-in attempts that reached a decision, by connector, outcome and reason (failures). */
  readonly signIns: Counter<'connector' | 'outcome' | 'reason'>;
  /** Risk decisions (`risk.evaluated`), by phase (sign-in, authorization, refresh, reverify), level and action. */
  readonly riskDecisions: Counter<'phase' | 'level' | 'action'>;
  /** Second factors answered in a step-up (not on the account security page), by kind, outcome and failure reason. */
  readonly stepUps: Counter<'kind' | 'outcome' | 'reason'>;
  /** Session re-verifications (sweep and refresh): verified (the upstream answered), confirmed (checked locally), unreachable. */
  readonly reverifications: Counter<'connector' | 'outcome'>;
  /** Upstream token refreshes the vault made (re-verification and near-expiry refresh). */
  readonly upstreamRefreshes: Counter<'connector' | 'outcome' | 'reason'>;
  /** Tokens issued at the token endpoint, by grant type and client. */
  readonly tokensIssued: Counter<'grant_type' | 'client'>;
  /** Refused token requests, by grant type and error. */
  readonly tokenErrors: Counter<'grant_type' | 'reason'>;
  /** Sessions ended, by reason (logout, upstream refusal, ...). */
  readonly sessionsEnded: Counter<'reason'>;
  /** Every audit event, by name and outcome. */
  readonly auditEvents: Counter<'event' | 'outcome'>;
  /**
   * Requests refused by a rate limit. The rate limiter calls `rateLimited.inc({ route, scope })` with a route name
   * from its configuration (`token`, `auth`, ...) and the budget that ran out (`ip` or `client`).
   */
  readonly rateLimited: Counter<'route' | 'scope'>;
  /** Upstream HTTP calls, by connector, endpoint and outcome (HTTP status class or `error`). */
  readonly upstreamDuration: Histogram<'connector' | 'endpoint' | 'outcome'>;
  /** Store operations, by operation. */
  readonly storeDuration: Histogram<'op'>;
  /** Store operations that failed, by operation. */
  readonly storeErrors: Counter<'op'>;
  /** Sessions the re-verification sweep checked, by outcome (verified, unchanged, ended, unreachable, gone, failed). */
  readonly sweepChecks: Counter<'outcome'>;
  /** Sweeps that found sessions overdue by more than two sweep intervals. */
  readonly sweepsBehind: Counter<never>;
  /** This instance's circuit of each OIDC upstream: 0 closed, 1 half-open (a probe in flight), 2 open. */
  readonly upstreamCircuit: Gauge<'connector'>;
}

export interface MetricsOptions {
  /** Node and process defaults (event-loop delay, heap, GC, CPU, handles); off for the unscraped registry. */
  defaults: boolean;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  if (options.defaults) collectDefaultMetrics({ register: registry });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Counter<L>({ name, help, labelNames, registers: [registry] });
  new Gauge({
    name: 'vestibule_saml_worker_queue_depth',
    help: 'SAML messages waiting for a free verification worker.',
    registers: [registry],
    collect() {
      this.set(samlPoolStats()?.queued ?? 0);
    },
  });
  new Gauge({
    name: 'vestibule_saml_workers',
    help: 'SAML verification worker threads (0 without a SAML connector).',
    registers: [registry],
    collect() {
      this.set(samlPoolStats()?.workers ?? 0);
    },
  });
  return {
    registry,
    signIns: counter('vestibule_sign_ins_total', 'Sign-ins that reached a decision, by connector, outcome and failure reason.', ['connector', 'outcome', 'reason']),
    riskDecisions: counter('vestibule_risk_decisions_total', 'Risk decisions, by phase, level (low, medium, high) and action (allow, step_up, deny; none for a re-verification).', ['phase', 'level', 'action']),
    stepUps: counter('vestibule_step_ups_total', 'Second factors answered in a step-up, by kind (totp, webauthn, recovery), outcome and failure reason.', ['kind', 'outcome', 'reason']),
    reverifications: counter('vestibule_reverifications_total', 'Session re-verifications: verified (the upstream answered), confirmed (checked without an upstream call), unreachable (kept within the grace).', ['connector', 'outcome']),
    upstreamRefreshes: counter('vestibule_upstream_refreshes_total', 'Upstream token refreshes, by connector, outcome and failure reason.', ['connector', 'outcome', 'reason']),
    tokensIssued: counter('vestibule_tokens_issued_total', 'Tokens issued at the token endpoint, by grant type and client.', ['grant_type', 'client']),
    tokenErrors: counter('vestibule_token_errors_total', 'Refused token requests, by grant type and error.', ['grant_type', 'reason']),
    sessionsEnded: counter('vestibule_sessions_ended_total', 'Sessions ended, by reason.', ['reason']),
    auditEvents: counter('vestibule_audit_events_total', 'Audit events recorded, by event and outcome.', ['event', 'outcome']),
    rateLimited: counter('vestibule_rate_limited_total', 'Requests refused by a rate limit, by route and budget (ip, client).', ['route', 'scope']),
    upstreamDuration: new Histogram({
      name: 'vestibule_upstream_request_duration_seconds',
      help: 'Upstream IdP HTTP calls, by connector, endpoint and outcome.',
      labelNames: ['connector', 'endpoint', 'outcome'],
      buckets: UPSTREAM_BUCKETS,
      registers: [registry],
    }),
    storeDuration: new Histogram({ name: 'vestibule_store_operation_duration_seconds', help: 'State store operations, by operation.', labelNames: ['op'], buckets: STORE_BUCKETS, registers: [registry] }),
    storeErrors: counter('vestibule_store_errors_total', 'State store operations that failed, by operation.', ['op']),
    sweepChecks: counter('vestibule_reverify_sweep_checks_total', 'Sessions the re-verification sweep checked, by outcome.', ['outcome']),
    sweepsBehind: counter('vestibule_reverify_sweeps_behind_total', 'Re-verification sweeps that found sessions overdue by more than two sweep intervals.', []),
    upstreamCircuit: new Gauge({
      name: 'vestibule_upstream_circuit_state',
      help: "This instance's circuit breaker of each upstream: 0 closed, 1 half-open (one probe in flight), 2 open (calls fail fast).",
      labelNames: ['connector'],
      registers: [registry],
    }),
  };
}
