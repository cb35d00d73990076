// CPU per risk evaluation (every signal but geo, the access policy, the lockout read, the audit record) on the memory store and on Redis,
// against an empty engine (risk.enabled false: locks and policy only) on the same input in the same run; target: at most 0.3 ms per sign-in.
import { pino } from 'pino';
import { Auditor } from '../src/audit/auditor.js';
import { Discard } from './lib/discard-sink.js';
import { clientRiskSchema, riskConfigSchema } from '../src/config/risk.js';
import { createRiskEngine, type RiskEngine } from '../src/risk/engine.js';
import { parseReputationList } from '../src/risk/signals/network.js';
import type { RiskInput } from '../src/risk/types.js';
import { AccountLocks } from '../src/session/account-locks.js';
import { SessionRepository } from '../src/session/federated-session.js';
import { MemoryStore } from '../src/store/memory.js';
import { RedisStore } from '../src/store/redis.js';
import type { KeyValueStore } from '../src/store/store.js';
import { count, prepare, REPEATS, runScenario } from './lib/harness.js';
import { RedisCpu } from './lib/redis-cpu.js';
import { emitResult } from './lib/report.js';
import { median, ratio } from './lib/stats.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MEMORY_EVALUATIONS = count(20_000, 500);
const REDIS_EVALUATIONS = count(4000, 200);
const ACCOUNTS = 1000;
const TARGET_MS = 0.3;
const logger = pino({ level: 'silent' });


/** A reputation list of 10,000 addresses, as a threat feed might hold. */
const reputation = parseReputationList(Array.from({ length: 10_000 }, (_, i) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`).join('\n'), 'bench');

const full = riskConfigSchema.parse({
  networks: { trusted: ['10.0.0.0/8', '172.16.0.0/12', 'fd00::/8'], blocked: ['203.0.113.0/24', '2001:db8:dead::/48'] },
  workingHours: { timeZone: 'Europe/Berlin', start: '08:00', end: '19:00' },
});
const empty = riskConfigSchema.parse({ enabled: false });
const policy = clientRiskSchema.parse({ accessPolicy: { rules: [{ name: 'staff', source: { groups: ['staff'] }, action: 'allow' }, { name: 'office', source: { networks: 'trusted' }, action: 'allow' }] } });

function engineOn(store: KeyValueStore, config: typeof full, sink: Discard): RiskEngine {
  return createRiskEngine({
    config,
    clientRisk: () => policy,
    store,
    locks: new AccountLocks(store),
    sessions: new SessionRepository(store, 86_400_000),
    terminate: async () => undefined,
    auditor: new Auditor([sink], logger, Date.now, 'bench.00000000'),
    ...(config.enabled ? { reputation } : {}),
  });
}

/** The same sign-in facts each time but for the account (a returning browser of one of ACCOUNTS accounts, off the office network). */
const inputs: RiskInput[] = Array.from({ length: ACCOUNTS }, (_, i) => ({
  phase: 'sign-in',
  clientId: 'intranet',
  accountId: `local:user${i}`,
  connectorId: 'local',
  ip: `192.0.2.${i & 255}`,
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  deviceId: `benchdevice${String(i).padStart(11, '0')}`,
  postureHeader: '80',
  fromTrustedProxy: true,
  upstreamAmr: ['pwd'],
  groups: ['staff'],
  scopes: ['openid', 'profile'],
}));

/** Remembers each account's device and gives it two failed sign-ins, so every read finds data. */
async function seed(engine: RiskEngine): Promise<void> {
  for (const input of inputs) {
    await engine.recordSuccessfulSignIn({ accountId: input.accountId, deviceId: input.deviceId as string, userAgent: input.userAgent, ip: input.ip });
    await engine.recordFailedSignIn({ accountId: input.accountId, ip: input.ip, deviceId: input.deviceId as string });
    await engine.recordFailedSignIn({ accountId: input.accountId, ip: input.ip });
  }
}

/** CPU ms per evaluate(), in this process (sequential, so the store's client work is counted, not overlapped). */
async function perEvaluation(engine: RiskEngine, evaluations: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < evaluations; i += 1) {
    const decision = await engine.evaluate(inputs[i % ACCOUNTS]!);
    if (decision.action === 'deny') throw new Error(`unexpected denial: ${decision.rule}`);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / evaluations;
}

/** CPU ms of one store read, for scale: what each of the engine's three reads costs the broker process at least. */
async function perRead(store: KeyValueStore, reads: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < reads; i += 1) await store.get(`risk-bench-absent:${i % ACCOUNTS}`);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / reads;
}

await runScenario(async () => {
  const method = { ...prepare(), memoryEvaluations: MEMORY_EVALUATIONS, redisEvaluations: REDIS_EVALUATIONS, accounts: ACCOUNTS, reputationEntries: 10_000, geo: 'off', audit: 'hash-chained Auditor into a discarding sink' };
  const prefix = `vbench:risk:${process.pid}:`;
  const memory = new MemoryStore();
  const redis = new RedisStore({ connection: { url: REDIS_URL }, prefix, logger });
  await redis.ready(5000);
  const redisCpu = new RedisCpu(REDIS_URL);
  try {
    const sinks = [new Discard(), new Discard(), new Discard(), new Discard()];
    const engines = { fullMemory: engineOn(memory, full, sinks[0]!), emptyMemory: engineOn(memory, empty, sinks[1]!), fullRedis: engineOn(redis, full, sinks[2]!), emptyRedis: engineOn(redis, empty, sinks[3]!) };
    await seed(engines.fullMemory);
    await seed(engines.fullRedis);
    // Warm-up.
    for (const engine of Object.values(engines)) await perEvaluation(engine, 500);
    const samples: Record<keyof typeof engines, number[]> = { fullMemory: [], emptyMemory: [], fullRedis: [], emptyRedis: [] };
    const redisReads: number[] = [];
    for (let repeat = 0; repeat < REPEATS; repeat += 1) {
      // Alternate the order each repeat (A B, B A, ...).
      const order = (repeat % 2 === 0 ? ['fullMemory', 'emptyMemory', 'fullRedis', 'emptyRedis'] : ['emptyMemory', 'fullMemory', 'emptyRedis', 'fullRedis']) as (keyof typeof engines)[];
      for (const name of order) samples[name].push(await perEvaluation(engines[name], name.endsWith('Memory') ? MEMORY_EVALUATIONS : REDIS_EVALUATIONS));
      redisReads.push(await perRead(redis, REDIS_EVALUATIONS));
    }
    const redisRead = median(redisReads);
    const m = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)])) as Record<keyof typeof engines, number>;
    process.stderr.write(`  memory: ${(m.fullMemory * 1000).toFixed(1)} µs full, ${(m.emptyMemory * 1000).toFixed(1)} µs empty engine; redis: ${(m.fullRedis * 1000).toFixed(1)} µs full, ${(m.emptyRedis * 1000).toFixed(1)} µs empty engine, ${(redisRead * 1000).toFixed(1)} µs per plain read\n`);
    emitResult({
      scenario: 'risk-evaluation',
      title: 'Risk evaluation: CPU per evaluate() at sign-in (signals without geo, policy, lockout read, audit record)',
      peer: 'an empty engine (risk.enabled false: account locks and access policy only) on the same input, same store, same run',
      rows: [
        { metric: 'CPU per evaluation, memory store', unit: 'ms', broker: m.fullMemory, peer: m.emptyMemory, ratio: ratio(m.fullMemory, m.emptyMemory), target: `<= ${TARGET_MS} ms`, met: m.fullMemory <= TARGET_MS },
        { metric: 'CPU per evaluation, Redis store (broker process only)', unit: 'ms', broker: m.fullRedis, peer: m.emptyRedis, ratio: ratio(m.fullRedis, m.emptyRedis), target: `<= ${TARGET_MS} ms`, met: m.fullRedis <= TARGET_MS },
        { metric: 'signals cost over the empty engine, Redis', unit: 'ms', broker: m.fullRedis - m.emptyRedis, peer: null, ratio: null },
        { metric: 'one Redis store read in the same process (reference: the engine makes three)', unit: 'ms', broker: redisRead, peer: null, ratio: null },
      ],
      method,
    });
  } finally {
    await redisCpu.flushPrefix(prefix).catch(() => undefined);
    await redisCpu.close();
    await redis.close();
    await memory.close();
  }
});
