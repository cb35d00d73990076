// An audit sink for in-process benchmarks: counts the bytes (so the work is not optimised away) and writes nothing.
import type { AuditEvent, AuditSink } from '../../src/audit/events.js';

export class Discard implements AuditSink {
  bytes = 0;
  write(_record: AuditEvent, line: string): void {
    this.bytes += line.length;
  }
}
