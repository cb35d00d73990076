// Scenario: what the audit trail and the metrics add to a sign-in and to a refresh, broker vs broker, in the same run.
// Three brokers on the Redis store: neither (audit off, metrics off), audit only (as deployed, to /dev/null), audit and
// metrics (on the main port behind a token, scraped once per window). The cap: audit + metrics <= 5% CPU of a sign-in.
import { ServerChild, measureCpu } from './lib/child.js';
import { loginFlow, pool, refresh, runPool, type Target } from './lib/flow.js';
import { alternate, benchPasswordHash, count, medianOf, prepare, runScenario } from './lib/harness.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { writeBenchJwks } from './lib/settings.js';
import { ratio } from './lib/stats.js';
import { MetricsAuditSink } from '../src/observability/audit-sink.js';
import { createMetrics } from '../src/observability/metrics.js';
import { instrumentStore } from '../src/observability/store-metrics.js';
import { MemoryStore } from '../src/store/memory.js';

const LOGINS = count(120);
const CHAINS = 16;
const REFRESHES_PER_CHAIN = Math.max(5, Math.round(count(1600, CHAINS) / CHAINS));
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
  const method = { ...prepare(), loginsPerRun: LOGINS, chains: CHAINS, refreshesPerChain: REFRESHES_PER_CHAIN, concurrency: CONCURRENCY, store: 'redis', scrapesPerWindow: 1 };
  const jwksFile = await writeBenchJwks();
  const passwordHash = await benchPasswordHash();
  const broker = (name: string, config: Record<string, unknown>) =>
    ServerChild.start(name, { kind: 'broker', jwksFile, passwordHash, store: { type: 'redis', url: REDIS_URL, prefix: `vbench:metrics:${process.pid}:${name}:` }, config });
  servers.push(
    await broker('neither', { auditLog: 'off' }),
    await broker('audit', {}),
    await broker('audit+metrics', { metrics: { enabled: true, onMainPort: true, token: TOKEN } }),
  );
  const agents = new Map(servers.map((s) => [s.name, pool(Math.max(CONCURRENCY, CHAINS))]));
  const target = (s: ServerChild): Target => ({ name: s.name, url: s.url });
  const scrape = async (s: ServerChild) => {
    if (s.name !== 'audit+metrics') return;
    const response = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (response.status !== 200) throw new Error(`scrape answered ${response.status}`);
    await response.text();
  };
  for (const server of servers) await runPool(WARMUP, CONCURRENCY, () => loginFlow(agents.get(server.name)!, target(server), { offline: true }));

  const samples = await alternate(servers, async (server) => {
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
    return { cpuMsPerLogin: logins.cpuMs / LOGINS, cpuMsPerRefresh: refreshes.cpuMs / (CHAINS * REFRESHES_PER_CHAIN) };
  });
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

  const login = (name: string) => medianOf(samples.get(name), 'cpuMsPerLogin');
  const refreshCpu = (name: string) => medianOf(samples.get(name), 'cpuMsPerRefresh');
  const both = ratio(login('audit+metrics'), login('neither'));
  const rows: BenchRow[] = [
    { metric: 'CPU per sign-in, audit + metrics vs neither', unit: 'ms', broker: login('audit+metrics'), peer: login('neither'), ratio: both, target: '<= 1.05x', met: both !== null && both <= 1.05 },
    { metric: 'CPU per sign-in, audit + metrics vs audit only (metrics alone)', unit: 'ms', broker: login('audit+metrics'), peer: login('audit'), ratio: ratio(login('audit+metrics'), login('audit')) },
    { metric: 'CPU per refresh, audit + metrics vs neither', unit: 'ms', broker: refreshCpu('audit+metrics'), peer: refreshCpu('neither'), ratio: ratio(refreshCpu('audit+metrics'), refreshCpu('neither')) },
    { metric: 'CPU per refresh, audit + metrics vs audit only (metrics alone)', unit: 'ms', broker: refreshCpu('audit+metrics'), peer: refreshCpu('audit'), ratio: ratio(refreshCpu('audit+metrics'), refreshCpu('audit')) },
    {
      metric: 'Metrics work per sign-in (derived), share of a sign-in',
      unit: 'ms',
      broker: added(loginShape),
      peer: login('audit'),
      ratio: ratio(added(loginShape), login('audit')),
      target: '<= 0.05',
      met: added(loginShape) / login('audit') <= 0.05,
      note: `${loginShape.storeOps.toFixed(1)} store operations and ${loginShape.auditEvents.toFixed(1)} audit events per sign-in; ${micros}`,
    },
    {
      metric: 'Metrics work per refresh (derived), share of a refresh',
      unit: 'ms',
      broker: added(refreshShape),
      peer: refreshCpu('audit'),
      ratio: ratio(added(refreshShape), refreshCpu('audit')),
      note: `${refreshShape.storeOps.toFixed(1)} store operations and ${refreshShape.auditEvents.toFixed(1)} audit events per refresh`,
    },
  ];
  emitResult({ scenario: 'metrics-cost', title: 'Audit trail and metrics: CPU added to a sign-in and a refresh (Redis store)', peer: 'the same broker without the audit trail and/or metrics', method, rows });
});
