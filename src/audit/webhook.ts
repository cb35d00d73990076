// Audit sink POSTing events at or above a level to a webhook: HMAC-signed, retried with backoff, bounded queue, never blocking a request.
import type { Logger } from 'pino';
import type { AuditWebhookConfig } from './config.js';
import { AUDIT_LEVELS, type AuditRecord, type AuditSink } from './events.js';
import { SIGNATURE_HEADER, signatureHeader } from './webhook-signature.js';

const MAX_BACKOFF_MS = 5 * 60_000;

/** What became of one delivery: sent (a 2xx), or dropped (with why). */
export interface DeliveryReport {
  id: string;
  delivered: boolean;
  attempts: number;
  reason?: string;
}

interface Delivery {
  body: string;
  id: string;
  attempts: number;
}

/** 408, 429 and 5xx are worth another attempt; any other refusal is a misconfiguration and is dropped. */
const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

export class WebhookSink implements AuditSink {
  private readonly queue: Delivery[] = [];
  private readonly minLevel: number;
  private running: Promise<void> | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly inFlight = new AbortController();
  /** Events dropped because the queue was full, too large, or out of attempts. */
  dropped = 0;

  constructor(
    private readonly config: AuditWebhookConfig,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    /** On close, how long queued events may still go out (a shutdown, or a reload replacing the app). */
    private readonly closeGraceMs = 2000,
    /** Told the outcome of every event (the risk engine audits its SOAR deliveries); must not throw. */
    private readonly report?: (report: DeliveryReport) => void,
  ) {
    this.minLevel = AUDIT_LEVELS.indexOf(config.minLevel);
  }

  /** Events waiting (including the one being delivered). */
  get pending(): number {
    return this.queue.length;
  }

  write(record: AuditRecord, line: string): void {
    if (this.closed || AUDIT_LEVELS.indexOf(record.level) < this.minLevel) return;
    const id = `${record.instance}:${record.seq}`;
    if (Buffer.byteLength(line) > this.config.maxBodyBytes) return this.drop(id, 'record larger than maxBodyBytes');
    if (this.queue.length >= this.config.maxQueue) return this.drop(id, 'queue full');
    this.queue.push({ body: line, id, attempts: 0 });
    this.running ??= this.run();
  }

  private drop(id: string, reason: string, attempts = 0): void {
    this.dropped += 1;
    this.logger.error({ delivery: id, reason }, 'audit webhook: event dropped');
    this.report?.({ id, delivered: false, attempts, reason });
  }

  private async run(): Promise<void> {
    while (!this.closed && this.queue.length > 0) {
      const delivery = this.queue[0]!;
      delivery.attempts += 1;
      const outcome = await this.attempt(delivery);
      if (this.closed) break;
      if (outcome === 'retry' && delivery.attempts < this.config.maxAttempts) {
        await this.sleep(Math.min(this.config.backoffMs * 2 ** (delivery.attempts - 1), MAX_BACKOFF_MS));
        continue;
      }
      this.queue.shift();
      if (outcome === 'delivered') this.report?.({ id: delivery.id, delivered: true, attempts: delivery.attempts });
      else this.drop(delivery.id, outcome === 'retry' ? `no success after ${delivery.attempts} attempts` : 'refused by the receiver', delivery.attempts);
    }
    this.running = undefined;
  }

  private async attempt(delivery: Delivery): Promise<'delivered' | 'retry' | 'refused'> {
    const timestamp = Math.floor(this.now() / 1000);
    try {
      const response = await fetch(this.config.url, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          'vestibule-delivery': delivery.id,
          [SIGNATURE_HEADER]: signatureHeader(this.config.secret, delivery.body, timestamp),
        },
        body: delivery.body,
        signal: AbortSignal.any([this.inFlight.signal, AbortSignal.timeout(this.config.timeoutMs)]),
      });
      // The answer's body is not needed: discard it without reading it.
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return 'delivered';
      this.logger.warn({ delivery: delivery.id, status: response.status, attempt: delivery.attempts }, 'audit webhook: delivery refused');
      return retryable(response.status) ? 'retry' : 'refused';
    } catch (error) {
      if (!this.closed) this.logger.warn({ delivery: delivery.id, err: (error as Error).message, attempt: delivery.attempts }, 'audit webhook: delivery failed');
      return 'retry';
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  /** Lets queued events go out for up to closeGraceMs, then stops: an attempt in progress is aborted, the rest dropped (logged). */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.running && this.closeGraceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise((resolve) => (timer = setTimeout(resolve, this.closeGraceMs)))]);
      clearTimeout(timer);
    }
    this.closed = true;
    this.inFlight.abort();
    clearTimeout(this.timer);
    this.wake?.();
    if (this.queue.length > 0) this.logger.warn({ pending: this.queue.length }, 'audit webhook: closing with undelivered events');
  }
}
