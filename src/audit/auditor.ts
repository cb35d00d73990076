// Fills in timestamp and level, links each event into this instance's hash chain and fans it out to the sinks; a failing sink never breaks a login.
import type { Logger } from 'pino';
import { HashChain } from './chain.js';
import type { AuditEvent, AuditSink } from './events.js';

export type AuditInput = Omit<AuditEvent, 'timestamp' | 'level'> & { level?: AuditEvent['level'] };

export class Auditor {
  private readonly chain: HashChain;

  /** `instance` names this chain (see chain.ts chainId); one Auditor per process start. */
  constructor(
    private readonly sinks: AuditSink[],
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    instance = 'vestibule',
  ) {
    this.chain = new HashChain(instance);
  }

  get instance(): string {
    return this.chain.instance;
  }

  record(input: AuditInput): void {
    const event: AuditEvent = {
      timestamp: new Date(this.now()).toISOString(),
      level: input.level ?? (input.outcome === 'failure' ? 'warn' : 'info'),
      ...input,
    };
    const { record, line } = this.chain.append(event);
    for (const sink of this.sinks) {
      try {
        const pending = sink.write(record, line);
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
