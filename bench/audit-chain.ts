// The audit hash chain's CPU per record (canonical JSON + SHA-256) against the Auditor without a chain, and its share of a local
// sign-in's CPU measured in the same run (broker child pinned to the server core, as in local-login.ts).
import { pino } from 'pino';
import { Auditor, type AuditInput } from '../src/audit/auditor.js';
import type { AuditEvent } from '../src/audit/events.js';
import { Discard } from './lib/discard-sink.js';
import { measureCpu, ServerChild } from './lib/child.js';
import { loginFlow, pool, runPool } from './lib/flow.js';
import { benchPasswordHash, count, prepare, REPEATS, runScenario } from './lib/harness.js';
import { emitResult } from './lib/report.js';
import { writeBenchJwks } from './lib/settings.js';
import { median, ratio } from './lib/stats.js';

const RECORDS = count(200_000, 1000);
const FLOWS = count(100, 10);
const CONCURRENCY = 4;
/** Records one local sign-in writes at most: login.success, consent.granted (the bench client skips consent), token.issued. */
const RECORDS_PER_SIGN_IN = 3;
const logger = pino({ level: 'silent' });


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

/** CPU microseconds per record, in this process. */
function perRecord(auditor: { record(input: AuditInput): void }): number {
  const start = process.cpuUsage();
  for (let i = 0; i < RECORDS; i += 1) auditor.record(input(i));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / RECORDS;
}

await runScenario(async (servers) => {
  const method = { ...prepare(), records: RECORDS, flowsPerRun: FLOWS, concurrency: CONCURRENCY, recordsPerSignIn: RECORDS_PER_SIGN_IN, sink: 'in-memory discard (sink I/O is the same with and without the chain)' };
  const broker = await ServerChild.start('broker', { kind: 'broker', jwksFile: await writeBenchJwks(), passwordHash: await benchPasswordHash(), store: { type: 'memory' } });
  servers.push(broker);
  const target = { name: broker.name, url: broker.url };
  /** Sign-ins on fresh connections (the in-process measurements in between outlast the server's keep-alive). */
  const signIn = async (flows: number) => {
    const agent = pool(CONCURRENCY);
    try {
      return await measureCpu(broker, () => runPool(flows, CONCURRENCY, () => loginFlow(agent, target)));
    } finally {
      await agent.close();
    }
  };
  await signIn(count(20, 5));
  perRecord(new Auditor([new Discard()], logger, Date.now, 'bench.00000000'));
  perRecord(unchained(new Discard()));
  const chained: number[] = [];
  const plain: number[] = [];
  const signIns: number[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat += 1) {
    const { cpuMs } = await signIn(FLOWS);
    signIns.push(cpuMs / FLOWS);
    chained.push(perRecord(new Auditor([new Discard()], logger, Date.now, 'bench.00000000')));
    plain.push(perRecord(unchained(new Discard())));
  }
  const [withChain, without, signInMs] = [median(chained), median(plain), median(signIns)];
  const chainUs = withChain - without;
  const share = (chainUs * RECORDS_PER_SIGN_IN) / (signInMs * 1000);
  process.stderr.write(`  audit record: ${withChain.toFixed(2)} µs with the chain, ${without.toFixed(2)} µs without; chain ${chainUs.toFixed(2)} µs/record\n`);
  process.stderr.write(`  sign-in: ${signInMs.toFixed(2)} ms CPU; chain for ${RECORDS_PER_SIGN_IN} records: ${(share * 100).toFixed(3)} % of it\n`);
  emitResult({
    scenario: 'audit-chain',
    title: 'Audit hash chain: CPU per record, and per sign-in',
    peer: 'the same Auditor without the chain (timestamp, level, JSON.stringify)',
    rows: [
      { metric: 'CPU per audit record', unit: 'µs', broker: withChain, peer: without, ratio: ratio(withChain, without) },
      { metric: 'chain cost per record (difference)', unit: 'µs', broker: chainUs, peer: null, ratio: null },
      { metric: 'CPU per local sign-in (broker, memory store, same run)', unit: 'ms', broker: signInMs, peer: null, ratio: null },
      {
        metric: `chain cost of ${RECORDS_PER_SIGN_IN} records / sign-in CPU`,
        unit: '%',
        broker: share * 100,
        peer: null,
        ratio: null,
        target: '<= 5% together with metrics',
        met: share < 0.05,
      },
    ],
    method,
  });
});
