// The SOAR webhook: risk.high and risk.lockout audit records POSTed through the audit webhook sink (HMAC-SHA256 signed, retried, never blocking), each delivery's outcome audited.
import type { Logger } from 'pino';
import type { Auditor } from '../audit/auditor.js';
import type { AuditRecord, AuditSink } from '../audit/events.js';
import { WebhookSink, type DeliveryReport } from '../audit/webhook.js';
import type { RiskConfig } from '../config/risk.js';

/** The events a SOC playbook acts on (README: SOAR webhook payload). */
export const SOAR_EVENTS: ReadonlySet<string> = new Set(['risk.high', 'risk.lockout']);

export class SoarWebhookSink implements AuditSink {
  private readonly delivery: WebhookSink;
  private auditor: Pick<Auditor, 'record'> | undefined;

  constructor(config: NonNullable<RiskConfig['webhook']>, logger: Logger) {
    // Signature timestamps are wall-clock time (receivers compare them with theirs), whatever clock the broker runs on.
    this.delivery = new WebhookSink({ ...config, minLevel: 'info', maxBodyBytes: 64 * 1024 }, logger, Date.now, 2000, (report) => this.audit(report));
  }

  /** The auditor that records delivery outcomes (it exists only after its sinks, this one among them). */
  attach(auditor: Pick<Auditor, 'record'>): void {
    this.auditor = auditor;
  }

  get pending(): number {
    return this.delivery.pending;
  }

  write(record: AuditRecord, line: string): void {
    if (SOAR_EVENTS.has(record.event)) this.delivery.write(record, line);
  }

  private audit(report: DeliveryReport): void {
    // risk.webhook is not a SOAR event: its own record never loops back into a delivery.
    this.auditor?.record({
      event: 'risk.webhook',
      outcome: report.delivered ? 'success' : 'failure',
      ...(report.delivered ? {} : { reason: 'delivery_failed' }),
      details: { delivery: report.id, attempts: report.attempts, ...(report.reason ? { note: report.reason } : {}) },
    });
  }

  close(): Promise<void> {
    return this.delivery.close();
  }
}

/** The SOAR sink for the auditor's sink list, or undefined without risk.webhook; call attach(auditor) once the auditor exists. */
export function createSoarSink(config: RiskConfig, logger: Logger): SoarWebhookSink | undefined {
  return config.webhook ? new SoarWebhookSink(config.webhook, logger.child({ sink: 'risk-webhook' })) : undefined;
}
