// The audit hash chain's CPU per record (canonical JSON + SHA-256) against the Auditor without a chain, and its share of a sign-in's CPU.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { Auditor, type AuditInput } from '../src/audit/auditor.js';
import type { AuditEvent, AuditSink } from '../src/audit/events.js';
import { count, prepare, REPEATS } from './lib/harness.js';
import { emitResult } from './lib/report.js';
import { median, ratio } from './lib/stats.js';

const RECORDS = count(200_000, 1000);
/** Records one local sign-in writes: login.success, consent.granted, token.issued. */
const RECORDS_PER_SIGN_IN = 3;
const logger = pino({ level: 'silent' });

/** A sink that keeps the last line (so the work is not optimised away) and writes nothing. */
class Discard implements AuditSink {
  bytes = 0;
  write(_record: AuditEvent, line: string): void {
    this.bytes += line.length;
  }
}

/** The Auditor before the chain: timestamp and level filled in, the event serialised with JSON.stringify. */
function unchained(sink: Discard) {
  return {
    record(input: AuditInput): void {
      const event: AuditEvent = { timestamp: new Date().toISOString(), level: input.level ?? (input.outcome === 'failure' ? 'warn' : 'info'), ...input };
      sink.bytes += JSON.stringify(event).length;
    },
  };
}

const input = (i: number): AuditInput => ({
  event: 'login.success',
  outcome: 'success',
  accountId: `local:alice${i % 1000}`,
  clientId: 'intranet',
  connectorId: 'local',
  ip: `10.0.${(i >> 8) & 255}.${i & 255}`,
  requestId: `3b0c7f3e-5a8e-4c1b-9d1a-${String(i).padStart(12, '0')}`,
  details: { acr: 'urn:vestibule:pwd', amr: 'pwd' },
});

/** CPU microseconds per record. */
function measure(auditor: { record(input: AuditInput): void }): number {
  const start = process.cpuUsage();
  for (let i = 0; i < RECORDS; i += 1) auditor.record(input(i));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / RECORDS;
}

/** The broker's CPU per local sign-in from the last local-login bench run (bench/results/latest.json), if there is one. */
function signInCpuMs(): number | undefined {
  try {
    const latest = JSON.parse(readFileSync(new URL('./results/latest.json', import.meta.url), 'utf8')) as { results: { scenario: string; rows: { metric: string; broker: number }[] }[] };
    return latest.results.find((r) => r.scenario === 'local-login')?.rows.find((row) => row.metric.startsWith('CPU per login flow (both'))?.broker;
  } catch {
    return undefined;
  }
}

const method = { ...prepare(), records: RECORDS, recordsPerSignIn: RECORDS_PER_SIGN_IN, sink: 'in-memory discard (sink I/O is the same with and without the chain)' };
// Warm both paths up before measuring.
measure(new Auditor([new Discard()], logger, Date.now, 'bench.00000000'));
measure(unchained(new Discard()));
const chained: number[] = [];
const plain: number[] = [];
for (let repeat = 0; repeat < REPEATS; repeat += 1) {
  chained.push(measure(new Auditor([new Discard()], logger, Date.now, 'bench.00000000')));
  plain.push(measure(unchained(new Discard())));
}
const [withChain, without] = [median(chained), median(plain)];
const chainCostUs = withChain - without;
const signIn = signInCpuMs();
const share = signIn ? (chainCostUs * RECORDS_PER_SIGN_IN) / (signIn * 1000) : null;
process.stderr.write(`  audit record: ${withChain.toFixed(2)} µs with the chain, ${without.toFixed(2)} µs without; chain ${chainCostUs.toFixed(2)} µs/record\n`);
if (share !== null) process.stderr.write(`  per sign-in (${RECORDS_PER_SIGN_IN} records, sign-in ${signIn!.toFixed(1)} ms CPU): ${(share * 100).toFixed(3)} %\n`);
emitResult({
  scenario: 'audit-chain',
  title: 'Audit hash chain: CPU per record',
  peer: 'the same Auditor without the chain (timestamp, level, JSON.stringify)',
  rows: [
    { metric: 'CPU per audit record', unit: 'µs', broker: withChain, peer: without, ratio: ratio(withChain, without) },
    { metric: 'chain cost per record (difference)', unit: 'µs', broker: chainCostUs, peer: null, ratio: null },
    {
      metric: `chain cost per local sign-in (${RECORDS_PER_SIGN_IN} records) / sign-in CPU`,
      unit: '%',
      broker: share === null ? null : share * 100,
      peer: null,
      ratio: null,
      target: '<= 5% together with metrics',
      met: share === null ? null : share < 0.05,
      note: signIn ? `sign-in CPU ${signIn.toFixed(1)} ms from bench/results/latest.json (local-login)` : 'no local-login result in bench/results/latest.json',
    },
  ],
  method,
});
