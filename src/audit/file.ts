// Audit sink appending JSON lines to a file, rotated by size and by UTC day; the chain runs on across rotated files.
import { closeSync, existsSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';
import type { AuditFileConfig } from './config.js';
import type { AuditRecord, AuditSink } from './events.js';

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Name of a rotated file: the path, then the UTC time of rotation (sorts in order; "-2", "-3" within one second). */
export function rotatedName(path: string, ms: number, taken: (candidate: string) => boolean = existsSync): string {
  const stamp = new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  let candidate = `${path}.${stamp}`;
  for (let n = 2; taken(candidate); n += 1) candidate = `${path}.${stamp}-${n}`;
  return candidate;
}

export class RotatingFileSink implements AuditSink {
  private fd: number;
  private size: number;
  private openedDay: string;
  private closed = false;
  /** Only a regular file rotates (not /dev/null, a FIFO or a terminal). */
  private readonly rotatable: boolean;

  constructor(
    private readonly config: AuditFileConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.fd = openSync(config.path, 'a', 0o600);
    const stat = fstatSync(this.fd);
    this.size = stat.size;
    this.rotatable = stat.isFile();
    // An existing file written on an earlier day rotates at the first record of today.
    this.openedDay = day(stat.size > 0 ? stat.mtimeMs : now());
  }

  write(_record: AuditRecord, line: string): void {
    const data = Buffer.from(`${line}\n`);
    const at = this.now();
    const dayChanged = this.config.daily && day(at) !== this.openedDay;
    if (this.rotatable && this.size > 0 && (dayChanged || this.size + data.length > this.config.maxBytes)) this.rotate(at);
    writeSync(this.fd, data);
    this.size += data.length;
  }

  private rotate(at: number): void {
    closeSync(this.fd);
    renameSync(this.config.path, rotatedName(this.config.path, at));
    this.fd = openSync(this.config.path, 'a', 0o600);
    this.size = 0;
    this.openedDay = day(at);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
