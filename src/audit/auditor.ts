// Fills in timestamp and level and fans each audit event out to the configured sinks; a failing sink never breaks a login.
import type { Logger } from 'pino';
import type { AuditEvent, AuditSink } from './events.js';

export type AuditInput = Omit<AuditEvent, 'timestamp' | 'level'> & { level?: AuditEvent['level'] };

export class Auditor {
  constructor(
    private readonly sinks: AuditSink[],
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  record(input: AuditInput): void {
    const event: AuditEvent = {
      timestamp: new Date(this.now()).toISOString(),
      level: input.level ?? (input.outcome === 'failure' ? 'warn' : 'info'),
      ...input,
    };
    for (const sink of this.sinks) {
      try {
        const pending = sink.write(event);
        if (pending) pending.catch((error: unknown) => this.logger.error({ err: error }, 'audit sink failed'));
      } catch (error) {
        this.logger.error({ err: error }, 'audit sink failed');
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.close?.()));
  }
}
