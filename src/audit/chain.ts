// One hash chain per broker instance: each record carries its instance, sequence number and the previous record's hash.
import { createHash, randomBytes } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { AuditEvent, AuditRecord } from './events.js';

/** `prev` of a chain's first record. */
export const GENESIS = '0'.repeat(64);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** SHA-256 (hex) of the record's canonical JSON without its `hash` field. */
export function recordHash(record: Omit<AuditRecord, 'hash'> & { hash?: string }): string {
  const { hash: _hash, ...body } = record;
  return sha256(canonicalJson(body));
}

/** A chain id: the configured instance name and a random id of this start, so a restart begins a new chain. */
export function chainId(name: string): string {
  return `${name}.${randomBytes(4).toString('hex')}`;
}

export class HashChain {
  private seq = 0;
  private prev = GENESIS;

  constructor(readonly instance: string) {}

  /** Links the event as the chain's next record; returns it and its line: the hashed canonical JSON with `hash` added last. */
  append(event: AuditEvent): { record: AuditRecord; line: string } {
    const record = { ...event, instance: this.instance, seq: this.seq, prev: this.prev } as AuditRecord;
    const body = canonicalJson(record);
    record.hash = sha256(body);
    this.seq += 1;
    this.prev = record.hash;
    return { record, line: `${body.slice(0, -1)},"hash":"${record.hash}"}` };
  }
}
