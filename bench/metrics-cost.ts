// Scenario: what the audit trail and the metrics add to a sign-in and to a refresh, broker vs broker, in the same run.
// Brokers on the Redis store: neither (audit off, metrics off), audit only (as deployed, to /dev/null), audit and
// metrics (on the main port behind a token, scraped once per window); and neither / audit + metrics again with a cheap
// password hash, which shows the share without argon2id. Interleaved rounds (every broker once per round, the order
// rotating); each round's ratio is one sample and the figure is the median of the rounds' ratios, which cancels the
// shared machine's drift between minutes. The issue's cap: audit + metrics <= 5% CPU of a sign-in.
import { ServerChild, measureCpu } from './lib/child.js';
import { loginFlow, pool, refresh, runPool, type Target } from './lib/flow.js';
import argon2 from 'argon2';
import { benchPasswordHash, count, prepare, REPEATS, runScenario } from './lib/harness.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { BENCH_USER, writeBenchJwks } from './lib/settings.js';
import { median, ratio } from './lib/stats.js';
import { MetricsAuditSink } from '../src/observability/audit-sink.js';
import { createMetrics } from '../src/observability/metrics.js';
import { instrumentStore } from '../src/observability/store-metrics.js';
import { MemoryStore } from '../src/store/memory.js';

const LOGINS = count(60);
const CHAINS = 16;
const REFRESHES_PER_CHAIN = Math.max(5, Math.round(count(800, CHAINS) / CHAINS));
const ROUNDS = Math.max(7, REPEATS);
const WARMUP = count(30, 5);
const CONCURRENCY = 4;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOKEN = 'bench-metrics-token-0123456789abcdefghijkl';
const MICRO = count(200_000, 10_000);

/** CPU µs of `work` run `n` times (awaited one by one), in this process. */
async function cpuMicros(n: number, work: () => unknown): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

/** The metrics' own work, in isolation: one timed store operation (over an untimed one), one counted audit event. */
async function microCosts() {
  const metrics = createMetrics({ defaults: false });
  const raw = new MemoryStore();
  const timed = instrumentStore(raw, metrics);
  const sink = new MetricsAuditSink(metrics, { connectors: ['local'], clients: ['bench'] });
  const event = { timestamp: new Date().toISOString(), level: 'info' as const, event: 'token.issued' as const, outcome: 'success' as const, clientId: 'bench', details: { grantType: 'authorization_code' } };
  const best = async (work: () => unknown) => Math.min(...(await sequential(3, () => cpuMicros(MICRO, work))));
  const storeOp = (await best(() => timed.get('k'))) - (await best(() => raw.get('k')));
  const auditEvent = await best(() => sink.write(event));
  await raw.close();
  return { storeOpMicros: storeOp, auditEventMicros: auditEvent };
}

async function sequential<T>(n: number, task: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await task());
  return out;
}

/** Store operations and audit events per flow, read from the metrics of the instrumented broker. */
async function perFlow(url: string, flows: number, run: () => Promise<unknown>) {
  const read = async () => {
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const sum = (name: string) => [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((total, m) => total + Number(m[1]), 0);
    return { storeOps: sum('vestibule_store_operation_duration_seconds_count'), auditEvents: sum('vestibule_audit_events_total') };
  };
  const before = await read();
  await run();
  const after = await read();
  return { storeOps: (after.storeOps - before.storeOps) / flows, auditEvents: (after.auditEvents - before.auditEvents) / flows };
}

await runScenario(async (servers) => {
  const method = { ...prepare(), rounds: ROUNDS, loginsPerWindow: LOGINS, chains: CHAINS, refreshesPerChain: REFRESHES_PER_CHAIN, concurrency: CONCURRENCY, store: 'redis', scrapesPerWindow: 1, figure: 'median over rounds of the per-round ratio' };
  const jwksFile = await writeBenchJwks();
  const passwordHash = await benchPasswordHash();
  const cheapHash = await argon2.hash(BENCH_USER.password, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 });
  const METRICS = { metrics: { enabled: true, onMainPort: true, token: TOKEN } };
  const broker = (name: string, config: Record<string, unknown>, hash = passwordHash) =>
    ServerChild.start(name, { kind: 'broker', jwksFile, passwordHash: hash, store: { type: 'redis', url: REDIS_URL, prefix: `vbench:metrics:${process.pid}:${name}:` }, config });
  servers.push(
    await broker('neither', { auditLog: 'off' }),
    await broker('audit', {}),
    await broker('audit+metrics', METRICS),
    await broker('neither-cheap-hash', { auditLog: 'off' }, cheapHash),
    await broker('audit+metrics-cheap-hash', METRICS, cheapHash),
  );
  const agents = new Map(servers.map((s) => [s.name, pool(Math.max(CONCURRENCY, CHAINS))]));
  const target = (s: ServerChild): Target => ({ name: s.name, url: s.url });
  const scrape = async (s: ServerChild) => {
    if (!s.name.startsWith('audit+metrics')) return;
    const response = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (response.status !== 200) throw new Error(`scrape answered ${response.status}`);
    await response.text();
  };
  const window = async (server: ServerChild) => {
    const agent = agents.get(server.name)!;
    const logins = await measureCpu(server, async () => {
      const tokens = await runPool(LOGINS, CONCURRENCY, () => loginFlow(agent, target(server), { offline: true }));
      await scrape(server);
      return tokens;
    });
    const chains = await Promise.all(Array.from({ length: CHAINS }, () => loginFlow(agent, target(server), { offline: true })));
    const refreshes = await measureCpu(server, async () => {
      await Promise.all(
        chains.map(async (tokens) => {
          let current = tokens.refresh_token!;
          for (let i = 0; i < REFRESHES_PER_CHAIN; i++) current = (await refresh(agent, target(server), current)).refresh_token!;
        }),
      );
      await scrape(server);
    });
    return { login: logins.cpuMs / LOGINS, refresh: refreshes.cpuMs / (CHAINS * REFRESHES_PER_CHAIN) };
  };
  for (const server of servers) await runPool(WARMUP, CONCURRENCY, () => loginFlow(agents.get(server.name)!, target(server), { offline: true }));

  // Rounds: every broker once, the order rotating, so each broker is measured in every position as often as the others.
  const rounds: Map<string, { login: number; refresh: number }>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const shift = round % servers.length;
    const order = [...servers.slice(shift), ...servers.slice(0, shift)];
    const measured = new Map<string, { login: number; refresh: number }>();
    for (const server of order) measured.set(server.name, await window(server));
    rounds.push(measured);
    process.stderr.write(`  [round ${round + 1}] ${[...measured].map(([name, m]) => `${name} login=${m.login.toFixed(2)} refresh=${m.refresh.toFixed(3)}`).join('; ')}\n`);
  }
  /** Median over rounds of a / b for one field, with the rounds' ratios (the spread). */
  const ratioOf = (a: string, b: string, field: 'login' | 'refresh') => {
    const each = rounds.map((r) => r.get(a)![field] / r.get(b)![field]);
    return { ratio: median(each), spread: `round ratios ${each.map((x) => x.toFixed(3)).join(' ')}` };
  };
  const value = (name: string, field: 'login' | 'refresh') => median(rounds.map((r) => r.get(name)![field]));

  // The per-flow shape (store operations, audit events), read from the instrumented broker's own metrics.
  const instrumented = servers.find((s) => s.name === 'audit+metrics')!;
  const agent = agents.get(instrumented.name)!;
  const SHAPE_FLOWS = 20;
  const loginShape = await perFlow(instrumented.url, SHAPE_FLOWS, () => runPool(SHAPE_FLOWS, CONCURRENCY, () => loginFlow(agent, target(instrumented), { offline: true })));
  const first = await loginFlow(agent, target(instrumented), { offline: true });
  const refreshShape = await perFlow(instrumented.url, SHAPE_FLOWS * 5, async () => {
    let current = first.refresh_token!;
    for (let i = 0; i < SHAPE_FLOWS * 5; i++) current = (await refresh(agent, target(instrumented), current)).refresh_token!;
  });
  await Promise.all([...agents.values()].map((a) => a.close()));
  const micro = await microCosts();
  const added = (shape: { storeOps: number; auditEvents: number }) => (shape.storeOps * micro.storeOpMicros + shape.auditEvents * micro.auditEventMicros) / 1000;
  const micros = `${micro.storeOpMicros.toFixed(2)} µs per timed store operation, ${micro.auditEventMicros.toFixed(2)} µs per counted audit event`;

  const row = (metric: string, a: string, b: string, field: 'login' | 'refresh', target?: number): BenchRow => {
    const { ratio: r, spread } = ratioOf(a, b, field);
    return { metric, unit: 'ms', broker: value(a, field), peer: value(b, field), ratio: r, ...(target ? { target: `<= ${target}x`, met: r <= target } : {}), note: spread };
  };
  const rows: BenchRow[] = [
    row('CPU per sign-in, audit + metrics vs neither', 'audit+metrics', 'neither', 'login', 1.05),
    row('CPU per sign-in, audit only vs neither (the audit chain alone)', 'audit', 'neither', 'login'),
    row('CPU per sign-in, audit + metrics vs audit only (metrics alone)', 'audit+metrics', 'audit', 'login'),
    row('CPU per sign-in with a cheap password hash (argon2id m=1 MiB, t=1), audit + metrics vs neither', 'audit+metrics-cheap-hash', 'neither-cheap-hash', 'login'),
    row('CPU per refresh, audit + metrics vs neither', 'audit+metrics', 'neither', 'refresh'),
    row('CPU per refresh, audit + metrics vs audit only (metrics alone)', 'audit+metrics', 'audit', 'refresh'),
    {
      metric: 'Metrics work per sign-in (derived), share of a sign-in',
      unit: 'ms',
      broker: added(loginShape),
      peer: value('audit', 'login'),
      ratio: ratio(added(loginShape), value('audit', 'login')),
      note: `${loginShape.storeOps.toFixed(1)} store operations and ${loginShape.auditEvents.toFixed(1)} audit events per sign-in; ${micros}`,
    },
    {
      metric: 'Metrics work per refresh (derived), share of a refresh',
      unit: 'ms',
      broker: added(refreshShape),
      peer: value('audit', 'refresh'),
      ratio: ratio(added(refreshShape), value('audit', 'refresh')),
      note: `${refreshShape.storeOps.toFixed(1)} store operations and ${refreshShape.auditEvents.toFixed(1)} audit events per refresh`,
    },
  ];
  emitResult({ scenario: 'metrics-cost', title: 'Audit trail and metrics: CPU added to a sign-in and a refresh (Redis store)', peer: 'the same broker without the audit trail and/or metrics', method, rows });
});
