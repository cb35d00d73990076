// The demo's view of the audit trail: the newest audit records kept in memory (development demo only), so the session timeline can show them.
import type { AuditEvent, AuditSink } from '../audit/events.js';

/** Keeps the last `capacity` audit records; the demo reads those of one account. */
export class AuditTail implements AuditSink {
  private readonly records: AuditEvent[] = [];

  constructor(private readonly capacity = 1000) {}

  write(event: AuditEvent): void {
    this.records.push(event);
    if (this.records.length > this.capacity) this.records.splice(0, this.records.length - this.capacity);
  }

  /** The account's records at or after `sinceMs`, oldest first. */
  of(accountId: string, sinceMs: number): AuditEvent[] {
    return this.records.filter((event) => event.accountId === accountId && Date.parse(event.timestamp) >= sinceMs);
  }
}
