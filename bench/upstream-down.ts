// Scenario: p50/p99 and broker CPU of federated sign-ins through a healthy OIDC upstream while other users start sign-ins,
// at the same paced rate, through a second upstream that answers or through one that hangs (accepts, never answers); same run.
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import type { Agent } from 'undici';
import { startUpstreamOp } from '../src/demo/upstream-oidc.js';
import { freeLoopbackPort } from '../test/helpers/upstream-oidc.js';
import { ServerChild, measureCpu } from './lib/child.js';
import { federatedFlow, TwoHostBrowser } from './lib/federated-flow.js';
import { authorizationRequest, pool, runPool } from './lib/flow.js';
import { benchPasswordHash, count, medianOf, prepare, REPEATS, runScenario } from './lib/harness.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { writeBenchJwks } from './lib/settings.js';
import { median, percentile, ratio } from './lib/stats.js';

const FLOWS = count(60);
const WARMUP = count(30, 5);
const CONCURRENCY = 4;
/** Sign-ins started per second through the second upstream (answering or hung), paced, during every window. */
const SECOND_RATE = 10;
const HUNG_TIMEOUT_MS = 1000;
const CIRCUIT = { failureThreshold: 5, cooldownSeconds: 3 };
const UPSTREAM_USER = { username: 'fed-user', password: 'fed-user-password' };

/** A loopback TCP server that accepts connections and never answers; counts the requests that reach it. */
async function startHungUpstream(): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('data', () => requests++);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Other users starting sign-ins through the second upstream (`idpHint`), SECOND_RATE per second, until stopped. Each ends at
 * the broker's answer: a redirect to the upstream (it answers) or the provider-down page (it hangs).
 */
function secondUpstreamLoad(agent: Agent, brokerUrl: string, idpHint: string): { stop(): Promise<{ attempts: number; unavailable: number; latencies: number[] }> } {
  let unavailable = 0;
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();
  const attempt = async () => {
    const browser = new TwoHostBrowser(agent);
    const t0 = performance.now();
    let page = await browser.send(`${brokerUrl}/auth?${authorizationRequest({ idp_hint: idpHint }).params}`);
    for (let hop = 0; hop < 5 && page.location?.startsWith(brokerUrl); hop++) page = await browser.send(page.location);
    latencies.push(performance.now() - t0);
    if (page.status === 503) unavailable++;
  };
  const timer = setInterval(() => {
    const started = attempt().catch(() => {});
    inFlight.add(started);
    void started.finally(() => inFlight.delete(started));
  }, 1000 / SECOND_RATE);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return { attempts: latencies.length, unavailable, latencies };
    },
  };
}

await runScenario(async (servers) => {
  const method = {
    ...prepare(),
    flowsPerRun: FLOWS,
    warmupFlows: WARMUP,
    concurrency: CONCURRENCY,
    secondUpstreamRate: SECOND_RATE,
    hungTimeoutMs: HUNG_TIMEOUT_MS,
    circuit: CIRCUIT,
    upstreams: 'healthy and second: oidc-provider 9 in the load-generator process (not measured); hung: a TCP server in the load-generator process',
  };
  const jwksFile = await writeBenchJwks();
  const passwordHash = await benchPasswordHash();
  const upstreamPort = await freeLoopbackPort();
  const clientSecret = randomBytes(24).toString('base64url');
  const hung = await startHungUpstream();
  const providers = [
    { id: 'up', type: 'oidc', name: 'Healthy upstream', config: { issuer: `http://127.0.0.1:${upstreamPort}`, clientId: 'bench-broker', clientSecret, allowInsecureRequests: true, scopes: ['openid', 'email', 'profile'] } },
    { id: 'second', type: 'oidc', name: 'Second upstream', config: { issuer: `http://127.0.0.1:${upstreamPort}`, clientId: 'bench-broker', clientSecret, allowInsecureRequests: true, timeoutMs: HUNG_TIMEOUT_MS } },
    { id: 'hung', type: 'oidc', name: 'Hung upstream', config: { issuer: hung.url, clientId: 'bench-broker', clientSecret, allowInsecureRequests: true, timeoutMs: HUNG_TIMEOUT_MS } },
  ];
  servers.push(await ServerChild.start('broker', { kind: 'broker', jwksFile, passwordHash, store: { type: 'memory' }, providers, config: { upstreamCircuit: CIRCUIT } }));
  const broker = servers[0]!;
  const upstream = await startUpstreamOp({
    port: upstreamPort,
    clients: [
      {
        client_id: 'bench-broker',
        client_secret: clientSecret,
        redirect_uris: [`${broker.url}/callback/up`, `${broker.url}/callback/second`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    users: [{ ...UPSTREAM_USER, sub: 'fed-user-sub', email: 'fed@example.org', name: 'Fed User', groups: ['staff'] }],
  });
  try {
    const agent = pool(CONCURRENCY);
    const secondAgent = pool(16);
    const signIn = () => federatedFlow(agent, broker.url, 'up', UPSTREAM_USER);
    await runPool(WARMUP, CONCURRENCY, signIn);
    const second = new Map<string, { attempts: number; unavailable: number; latencies: number[] }[]>([['hanging', []], ['answering', []]]);
    type Sample = { p50: number; p99: number; cpuMsPerSignIn: number; signInsPerSec: number };
    const samples = new Map<string, Sample[]>([['hanging', []], ['answering', []]]);
    // One broker in two conditions, alternating each repeat (hanging answering, answering hanging, ...).
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      for (const condition of repeat % 2 === 0 ? ['hanging', 'answering'] : ['answering', 'hanging']) {
        const load = secondUpstreamLoad(secondAgent, broker.url, condition === 'hanging' ? 'hung' : 'second');
        // The second upstream's users arrive first: a hung upstream's circuit is in its steady cycle (open, a probe per cooldown).
        await new Promise((resolve) => setTimeout(resolve, HUNG_TIMEOUT_MS * 2));
        const { cpuMs, wallMs, result: times } = await measureCpu(broker, () => runPool(FLOWS, CONCURRENCY, signIn));
        second.get(condition)!.push(await load.stop());
        const sample = { p50: percentile(times, 50), p99: percentile(times, 99), cpuMsPerSignIn: cpuMs / FLOWS, signInsPerSec: (FLOWS * 1000) / wallMs };
        samples.get(condition)!.push(sample);
        process.stderr.write(`  [${condition} #${repeat + 1}] ${Object.entries(sample).map(([k, v]) => `${k}=${Math.round(v * 100) / 100}`).join(' ')}\n`);
      }
    }
    await Promise.all([agent.close(), secondAgent.close()]);

    const row = (metric: string, unit: string, field: 'p50' | 'p99' | 'cpuMsPerSignIn' | 'signInsPerSec', note?: string): BenchRow => {
      const hanging = medianOf(samples.get('hanging'), field);
      const answering = medianOf(samples.get('answering'), field);
      return { metric, unit, broker: hanging, peer: answering, ratio: ratio(hanging, answering), ...(note ? { note } : {}) };
    };
    const secondRow = (condition: string) => {
      const figures = second.get(condition)!;
      const attempts = figures.reduce((sum, f) => sum + f.attempts, 0);
      return { attempts, unavailable: figures.reduce((sum, f) => sum + f.unavailable, 0), p50: median(figures.flatMap((f) => f.latencies)), perWindow: attempts / Math.max(1, figures.length) };
    };
    const hungFigures = secondRow('hanging');
    const answeringFigures = secondRow('answering');
    const rows: BenchRow[] = [
      row('healthy-upstream sign-in p50', 'ms', 'p50'),
      row('healthy-upstream sign-in p99', 'ms', 'p99'),
      row('broker CPU per healthy-upstream sign-in', 'ms', 'cpuMsPerSignIn', `each window also carries the second upstream's sign-in starts (${SECOND_RATE}/s)`),
      row(`healthy-upstream sign-ins/s at concurrency ${CONCURRENCY}`, '/s', 'signInsPerSec'),
      {
        metric: 'second-upstream sign-in start p50 (hung: the 503 page; answering: the redirect to it)',
        unit: 'ms',
        broker: hungFigures.p50,
        peer: answeringFigures.p50,
        ratio: ratio(hungFigures.p50, answeringFigures.p50),
        note: `hung: ${hungFigures.unavailable} of ${hungFigures.attempts} starts answered 503 (${Math.round(hungFigures.perWindow)} per window); ${hung.requests()} requests reached the hung upstream in the whole run`,
      },
    ];
    emitResult({ scenario: 'upstream-down', title: 'Sign-ins through a healthy upstream while another one hangs', peer: 'the same broker, same run, the second upstream answering', rows, method });
  } finally {
    await upstream.close();
    await hung.close();
  }
});
