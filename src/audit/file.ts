// Audit sink appending JSON lines to a file, rotated by size and by UTC day; the chain runs on across rotated files.
import { closeSync, existsSync, fstatSync, openSync, readdirSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
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

/** The audit file's rotated files, oldest first, then the file itself: the order `audit verify` reads them in. */
export function filesInOrder(path: string): string[] {
  const base = basename(path);
  const rotated = readdirSync(dirname(path)).filter((name) => name.startsWith(`${base}.`) && /^\d{8}T\d{6}Z(-\d+)?$/.test(name.slice(base.length + 1)));
  const counter = (name: string) => Number(/-(\d+)$/.exec(name)?.[1] ?? 1);
  rotated.sort((a, b) => a.slice(0, base.length + 17).localeCompare(b.slice(0, base.length + 17)) || counter(a) - counter(b));
  return [...rotated.map((name) => join(dirname(path), name)), ...(existsSync(path) ? [path] : [])];
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
