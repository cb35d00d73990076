// Checks audit records in order against their hash chains and names the first broken one (edited, missing, reordered).
import { GENESIS, recordHash } from './chain.js';
import type { AuditRecord } from './events.js';

/** One record as read: its raw text and where it was (file and line, or stream entry id). */
export interface AuditEntry {
  text: string;
  where: string;
}

export interface Broken {
  where: string;
  instance?: string;
  seq?: number;
  reason: string;
}

export interface VerifyReport {
  records: number;
  /** Each chain's first and last sequence number seen. */
  chains: Map<string, { first: number; last: number }>;
  broken?: Broken;
}

export interface VerifyOptions {
  /** Accept chains whose first record in the input is not seq 0 (a capped stream, deleted old files). */
  partial?: boolean;
}

const HEX64 = /^[0-9a-f]{64}$/;

function parse(text: string): AuditRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const record = value as Partial<AuditRecord> | null;
  if (!record || typeof record !== 'object' || Array.isArray(record)) return 'not a JSON object';
  if (typeof record.instance !== 'string' || !record.instance) return 'no instance';
  if (!Number.isSafeInteger(record.seq) || (record.seq as number) < 0) return 'no valid seq';
  if (typeof record.prev !== 'string' || !HEX64.test(record.prev)) return 'no valid prev';
  if (typeof record.hash !== 'string' || !HEX64.test(record.hash)) return 'no valid hash';
  return record as AuditRecord;
}

/** Reads entries in order; stops at the first broken record. */
export async function verifyChain(entries: AsyncIterable<AuditEntry> | Iterable<AuditEntry>, options: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { records: 0, chains: new Map() };
  const last = new Map<string, { seq: number; hash: string }>();
  for await (const { text, where } of entries) {
    const record = parse(text);
    if (typeof record === 'string') return { ...report, broken: { where, reason: record } };
    const { instance, seq } = record;
    const fail = (reason: string): VerifyReport => ({ ...report, broken: { where, instance, seq, reason } });
    let expectedHash: string;
    try {
      expectedHash = recordHash(record);
    } catch {
      return fail('holds a value that is not JSON');
    }
    if (expectedHash !== record.hash) return fail('record altered: its hash does not match its content');
    const before = last.get(instance);
    if (!before) {
      if (seq === 0 && record.prev !== GENESIS) return fail('seq 0 does not start from the genesis hash');
      if (seq !== 0 && !options.partial) return fail(`chain starts at seq ${seq}: earlier records are missing (use --partial for a capped stream or deleted old files)`);
    } else {
      if (seq !== before.seq + 1) return fail(`expected seq ${before.seq + 1} after ${before.seq}: records deleted or reordered`);
      if (record.prev !== before.hash) return fail('prev does not match the previous record\'s hash');
    }
    last.set(instance, { seq, hash: record.hash });
    const chain = report.chains.get(instance);
    report.chains.set(instance, { first: chain?.first ?? seq, last: seq });
    report.records += 1;
  }
  return report;
}
