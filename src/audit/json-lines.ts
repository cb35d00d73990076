// JSON-lines audit sink: one record per line, to stdout or appended to a file.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { AuditEvent, AuditSink } from './events.js';

export class JsonLinesSink implements AuditSink {
  private readonly stream: Writable;
  private readonly owned: boolean;

  /** `target` is "stdout" or a file path (opened for append). */
  constructor(target: string | Writable) {
    if (typeof target === 'string') {
      this.owned = target !== 'stdout';
      this.stream = target === 'stdout' ? process.stdout : createWriteStream(target, { flags: 'a', mode: 0o600 });
    } else {
      this.owned = false;
      this.stream = target;
    }
  }

  write(event: AuditEvent): void {
    this.stream.write(`${JSON.stringify(event)}\n`);
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    await new Promise<void>((resolve) => (this.stream as WriteStream).end(resolve));
  }
}
