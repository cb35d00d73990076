// Scenario 6: p50/p99 latency at half of saturation: the login flow, the refresh_token grant (rotating chains) and discovery.
// Saturation is measured first (closed loop); then an open-loop generator offers half that rate and records every latency.
// Refresh chains are fresh for each measurement (refresh cost depends on chain depth, see refresh-rate).
import { ServerChild } from './lib/child.js';
import { loginFlow, pool, refresh, runOpenLoop, runPool, type Target } from './lib/flow.js';
import { alternate, benchPasswordHash, count, medianOf, prepare, runScenario } from './lib/harness.js';
import { closedLoad, rateLoad } from './lib/http-load.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { writeBenchJwks } from './lib/settings.js';
import { percentile, ratio } from './lib/stats.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const LOGINS = count(120, 20);
const REFRESHES = count(2000, 100);
const DISCOVERY = count(10_000, 500);
const CHAINS = 64;

await runScenario(async (servers) => {
  const method = { ...prepare(), logins: LOGINS, refreshes: REFRESHES, discoveryRequests: DISCOVERY, chains: CHAINS, load: 'open loop at 50% of the closed-loop saturation rate of the same server' };
  const jwksFile = await writeBenchJwks();
  const passwordHash = await benchPasswordHash();
  const prefix = `vbench:latency:${process.pid}:`;
  servers.push(
    await ServerChild.start('broker', { kind: 'broker', jwksFile, passwordHash, store: { type: 'redis', url: REDIS_URL, prefix } }),
    await ServerChild.start('peer', { kind: 'peer-oidc', jwksFile, passwordHash }),
  );
  const agents = new Map(servers.map((s) => [s.name, pool(CHAINS)]));
  const target = (s: ServerChild): Target => ({ name: s.name, url: s.url });

  /** Fresh refresh chains (one login each), so every measurement sees the same chain depths. */
  const newChains = async (server: ServerChild) =>
    (await Promise.all(Array.from({ length: CHAINS }, () => loginFlow(agents.get(server.name)!, target(server), { offline: true })))).map((t) => t.refresh_token!);

  // Saturation of each server: login flows (concurrency 4), refreshes (CHAINS chains), discovery (wrk/autocannon, 32 connections).
  const saturation = new Map<string, { login: number; refresh: number; discovery: number }>();
  for (const server of servers) {
    const agent = agents.get(server.name)!;
    const t0 = performance.now();
    await runPool(LOGINS / 2, 4, () => loginFlow(agent, target(server)));
    const login = (LOGINS / 2 / (performance.now() - t0)) * 1000;
    const tokens = await newChains(server);
    const perChain = Math.ceil(REFRESHES / 2 / CHAINS);
    const t1 = performance.now();
    await runPool(CHAINS, CHAINS, async (c) => {
      for (let i = 0; i < perChain; i++) tokens[c] = (await refresh(agent, target(server), tokens[c]!)).refresh_token!;
    });
    const refreshRate = ((perChain * CHAINS) / (performance.now() - t1)) * 1000;
    const d = await closedLoad(`${server.url}/.well-known/openid-configuration`, { requests: DISCOVERY, seconds: 3, connections: 32 });
    saturation.set(server.name, { login, refresh: refreshRate, discovery: (d.requests / d.wallMs) * 1000 });
    process.stderr.write(`  [${server.name} saturation] ${JSON.stringify(saturation.get(server.name))}\n`);
  }

  const samples = await alternate(servers, async (server) => {
    const agent = agents.get(server.name)!;
    const sat = saturation.get(server.name)!;
    const logins = await runOpenLoop(LOGINS, sat.login / 2, () => loginFlow(agent, target(server)));
    // Each scheduled refresh takes an idle chain (waiting for one if all are busy; the wait counts as latency).
    const idle = await newChains(server);
    const waiting: ((token: string) => void)[] = [];
    const release = (token: string) => (waiting.length ? waiting.shift()!(token) : idle.unshift(token));
    const refreshes = await runOpenLoop(REFRESHES, sat.refresh / 2, async () => {
      const token = idle.pop() ?? (await new Promise<string>((resolve) => waiting.push(resolve)));
      release((await refresh(agent, target(server), token)).refresh_token!);
    });
    const discovery = await rateLoad(`${server.url}/.well-known/openid-configuration`, sat.discovery / 2, DISCOVERY, 32);
    return {
      loginP50: percentile(logins, 50),
      loginP99: percentile(logins, 99),
      refreshP50: percentile(refreshes, 50),
      refreshP99: percentile(refreshes, 99),
      discoveryP50: discovery.p50Ms,
      discoveryP99: discovery.p99Ms,
    };
  });
  await Promise.all([...agents.values()].map((a) => a.close()));

  const b = samples.get('broker');
  const p = samples.get('peer');
  const sat = (name: string) => saturation.get(name)!;
  const row = (metric: string, field: 'loginP50' | 'loginP99' | 'refreshP50' | 'refreshP99' | 'discoveryP50' | 'discoveryP99', note: string): BenchRow => ({
    metric,
    unit: 'ms',
    broker: medianOf(b, field),
    peer: medianOf(p, field),
    ratio: ratio(medianOf(b, field), medianOf(p, field)),
    note,
  });
  const rows: BenchRow[] = [
    row('login flow p50 (whole flow, 5 requests)', 'loginP50', `at ${(sat('broker').login / 2).toFixed(1)} vs ${(sat('peer').login / 2).toFixed(1)} flows/s`),
    row('login flow p99', 'loginP99', 'includes argon2id verify'),
    row('refresh_token grant p50', 'refreshP50', `at ${(sat('broker').refresh / 2).toFixed(0)} vs ${(sat('peer').refresh / 2).toFixed(0)} /s; broker on Redis, peer in memory`),
    row('refresh_token grant p99', 'refreshP99', ''),
    row('discovery p50', 'discoveryP50', `at ${(sat('broker').discovery / 2).toFixed(0)} vs ${(sat('peer').discovery / 2).toFixed(0)} /s (autocannon, 1 ms resolution)`),
    row('discovery p99', 'discoveryP99', ''),
  ];
  emitResult({ scenario: 'latency', title: 'Latency at half of saturation (open loop)', peer: 'bare oidc-provider 9, same settings, memory adapter', rows, method });
});
