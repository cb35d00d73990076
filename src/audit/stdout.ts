// Audit sink writing each record's canonical JSON line to standard output (or any writable stream).
import type { Writable } from 'node:stream';
import type { AuditRecord, AuditSink } from './events.js';

export class StdoutSink implements AuditSink {
  constructor(private readonly stream: Writable = process.stdout) {}

  write(_record: AuditRecord, line: string): void {
    this.stream.write(`${line}\n`);
  }
}
