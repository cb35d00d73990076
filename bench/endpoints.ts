// Scenario 3: discovery, JWKS and /healthz of the broker vs a bare Koa app serving the same JSON documents.
import { ServerChild, measureCpu } from './lib/child.js';
import { alternate, benchPasswordHash, count, medianOf, prepare, runScenario } from './lib/harness.js';
import { closedLoad, hasWrk } from './lib/http-load.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { writeBenchJwks } from './lib/settings.js';
import { ratio } from './lib/stats.js';

const ENDPOINTS = { discovery: '/.well-known/openid-configuration', jwks: '/jwks', healthz: '/healthz' } as const;
const REQUESTS = count(20_000, 500);
const WARMUP = count(5_000, 200);
/** wrk runs for a fixed time (it cannot stop at a count); autocannon sends REQUESTS. */
const SECONDS = Math.max(1, Math.round(4 * Number(process.env.BENCH_SCALE ?? 1)));
const CONNECTIONS = 32;

await runScenario(async (servers) => {
  const method = { ...prepare(), requestsPerRun: REQUESTS, warmupRequests: WARMUP, connections: CONNECTIONS, tool: (await hasWrk()) ? `wrk (1 thread, ${SECONDS} s per run)` : `autocannon (${REQUESTS} requests per run)` };
  const jwksFile = await writeBenchJwks();
  const broker = await ServerChild.start('broker', { kind: 'broker', jwksFile, passwordHash: await benchPasswordHash(), store: { type: 'memory' } });
  servers.push(broker);
  const bodies: Record<string, unknown> = {};
  for (const path of Object.values(ENDPOINTS)) {
    const response = await fetch(broker.url + path);
    if (response.status !== 200) throw new Error(`broker ${path}: ${response.status}`);
    bodies[path] = await response.json();
  }
  servers.push(await ServerChild.start('peer', { kind: 'peer-koa', bodies }));

  const rows: BenchRow[] = [];
  for (const [name, path] of Object.entries(ENDPOINTS)) {
    for (const server of servers) await closedLoad(server.url + path, { requests: WARMUP, seconds: 1, connections: CONNECTIONS });
    const samples = await alternate(servers, async (server) => {
      const { cpuMs, result } = await measureCpu(server, () => closedLoad(server.url + path, { requests: REQUESTS, seconds: SECONDS, connections: CONNECTIONS }));
      if (result.failures > 0) throw new Error(`${server.name} ${path}: ${result.failures} failed requests`);
      return { perSec: (result.requests * 1000) / result.wallMs, cpuUsPerReq: (cpuMs * 1000) / result.requests };
    });
    const b = samples.get('broker');
    const p = samples.get('peer');
    const throughput = ratio(medianOf(b, 'perSec'), medianOf(p, 'perSec'));
    rows.push({ metric: `${name} (${path}) requests/s`, unit: '/s', broker: medianOf(b, 'perSec'), peer: medianOf(p, 'perSec'), ratio: throughput, target: '>= 0.8x', met: throughput !== null && throughput >= 0.8 });
    const perCpu = ratio(1 / medianOf(b, 'cpuUsPerReq'), 1 / medianOf(p, 'cpuUsPerReq'));
    rows.push({
      metric: `${name} CPU per request`,
      unit: 'us',
      broker: medianOf(b, 'cpuUsPerReq'),
      peer: medianOf(p, 'cpuUsPerReq'),
      ratio: ratio(medianOf(b, 'cpuUsPerReq'), medianOf(p, 'cpuUsPerReq')),
      target: '<= 1.25x (= >= 0.8x per core)',
      met: perCpu !== null && perCpu >= 0.8,
    });
  }
  emitResult({ scenario: 'endpoints', title: 'Discovery, JWKS and /healthz', peer: 'bare Koa 3 app serving the same JSON', rows, method });
});
