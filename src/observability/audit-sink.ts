// An audit sink that counts events into the metrics: sign-ins, risk decisions, step-ups, tokens, refreshes and session endings, with bounded labels.
import type { AuditEvent, AuditSink } from '../audit/events.js';
import { codeLabel, configuredLabel, grantTypeLabel } from './labels.js';
import type { Metrics } from './metrics.js';

/** Distinct reason values kept as labels; beyond this every new one is "other" (a guard should a free-form reason ever appear). */
export const MAX_REASONS = 200;

export interface MetricsSinkOptions {
  /** Connector ids of the configuration (other values are counted as "other"). */
  connectors: Iterable<string>;
  /** Client ids of the configuration. */
  clients: Iterable<string>;
}

/** A detail that is a string, else undefined (labelled "none"). */
const text = (value: string | number | boolean | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

export class MetricsAuditSink implements AuditSink {
  private readonly connectors: ReadonlySet<string>;
  private readonly clients: ReadonlySet<string>;
  private readonly reasons = new Set<string>();

  constructor(
    private readonly metrics: Metrics,
    options: MetricsSinkOptions,
  ) {
    this.connectors = new Set(options.connectors);
    this.clients = new Set(options.clients);
  }

  private reason(value: string | undefined): string {
    const label = codeLabel(value);
    if (this.reasons.has(label)) return label;
    if (this.reasons.size >= MAX_REASONS) return 'other';
    this.reasons.add(label);
    return label;
  }

  write(event: AuditEvent): void {
    const { metrics } = this;
    metrics.auditEvents.inc({ event: event.event, outcome: event.outcome });
    const failed = event.outcome === 'failure';
    switch (event.event) {
      case 'login.success':
      case 'login.failure':
      case 'upstream.callback.rejected':
        metrics.signIns.inc({ connector: configuredLabel(this.connectors, event.connectorId), outcome: event.outcome, reason: failed ? this.reason(event.reason) : 'none' });
        return;
      case 'token.issued':
      case 'token.refreshed': {
        const grantType = grantTypeLabel(event.details?.grantType);
        if (failed) metrics.tokenErrors.inc({ grant_type: grantType, reason: this.reason(event.reason) });
        else metrics.tokensIssued.inc({ grant_type: grantType, client: configuredLabel(this.clients, event.clientId) });
        return;
      }
      case 'upstream.token.refreshed':
      case 'upstream.token.refresh_failed':
        metrics.upstreamRefreshes.inc({ connector: configuredLabel(this.connectors, event.connectorId), outcome: event.outcome, reason: failed ? this.reason(event.reason) : 'none' });
        return;
      case 'session.reverified':
        metrics.reverifications.inc({ connector: configuredLabel(this.connectors, event.connectorId), outcome: failed ? 'unreachable' : event.details?.upstreamAsked === true ? 'verified' : 'confirmed' });
        return;
      case 'risk.evaluated':
        metrics.riskDecisions.inc({ phase: codeLabel(text(event.details?.phase)), level: codeLabel(text(event.details?.level)), action: codeLabel(text(event.details?.action)) });
        return;
      case 'mfa.verified':
        // The account security page proves a factor to manage factors: not a step-up.
        if (event.details?.via === 'account_security') return;
        metrics.stepUps.inc({ kind: codeLabel(text(event.details?.kind)), outcome: event.outcome, reason: failed ? this.reason(event.reason) : 'none' });
        return;
      case 'session.ended':
        metrics.sessionsEnded.inc({ reason: this.reason(event.reason) });
        return;
      default:
        return;
    }
  }
}
