// Scenario: CPU per federated login through an upstream OIDC provider (RP -> broker -> upstream login -> broker -> code -> token),
// broker process only, vs a bare oidc-provider login (no password hashing) measured in the same run. Target <= 1.8x.
import { randomBytes } from 'node:crypto';
import { startUpstreamOp } from '../src/demo/upstream-oidc.js';
import { freeLoopbackPort } from '../test/helpers/upstream-oidc.js';
import { ServerChild, measureCpu } from './lib/child.js';
import { federatedFlow } from './lib/federated-flow.js';
import { loginFlow, pool, runPool } from './lib/flow.js';
import { alternate, benchPasswordHash, count, medianOf, prepare, runScenario } from './lib/harness.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { writeBenchJwks } from './lib/settings.js';
import { ratio } from './lib/stats.js';

const FLOWS = count(120);
const WARMUP = count(30, 5);
const CONCURRENCY = 4;
/** Also one sign-in at a time: neither server then gets the batching that concurrent requests give (the peer gains more from it). */
const SEQUENTIAL_FLOWS = count(60);
const TARGET = 1.8;
const UPSTREAM_USER = { username: 'fed-user', password: 'fed-user-password' };

const b64url = (bytes: Buffer) => bytes.toString('base64url');

await runScenario(async (servers) => {
  const method = { ...prepare(), flowsPerRun: FLOWS, sequentialFlowsPerRun: SEQUENTIAL_FLOWS, warmupFlows: WARMUP, concurrency: CONCURRENCY, upstream: 'oidc-provider 9 in the load-generator process (not measured)', scope: 'openid profile email groups' };
  const jwksFile = await writeBenchJwks();
  const passwordHash = await benchPasswordHash();
  const upstreamPort = await freeLoopbackPort();
  const upstreamIssuer = `http://127.0.0.1:${upstreamPort}`;
  const clientSecret = b64url(randomBytes(24));
  const provider = {
    id: 'up',
    type: 'oidc',
    name: 'Bench upstream',
    config: { issuer: upstreamIssuer, clientId: 'bench-broker', clientSecret, allowInsecureRequests: true, scopes: ['openid', 'email', 'profile', 'groups'], claims: { groupPrefix: 'up:' } },
  };
  servers.push(
    await ServerChild.start('broker', { kind: 'broker', jwksFile, passwordHash, store: { type: 'memory' }, providers: [provider] }),
    await ServerChild.start('peer-nohash', { kind: 'peer-oidc', jwksFile }),
  );
  const broker = servers[0]!;
  // The broker discovers the upstream lazily (first login), so the upstream can start now that the callback URL is known.
  const upstream = await startUpstreamOp({
    port: upstreamPort,
    clients: [
      {
        client_id: 'bench-broker',
        client_secret: clientSecret,
        redirect_uris: [`${broker.url}/callback/up`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    users: [{ ...UPSTREAM_USER, sub: 'fed-user-sub', email: 'fed@example.org', name: 'Fed User', groups: ['staff'] }],
  });
  try {
    const agents = new Map(servers.map((s) => [s.name, pool(CONCURRENCY)]));
    const flow = (server: ServerChild) =>
      server.name === 'broker' ? federatedFlow(agents.get(server.name)!, server.url, 'up', UPSTREAM_USER) : loginFlow(agents.get(server.name)!, { name: server.name, url: server.url });
    for (const server of servers) await runPool(WARMUP, CONCURRENCY, () => flow(server));

    const samples = await alternate(servers, async (server) => {
      const { cpuMs, wallMs } = await measureCpu(server, () => runPool(FLOWS, CONCURRENCY, () => flow(server)));
      const sequential = await measureCpu(server, () => runPool(SEQUENTIAL_FLOWS, 1, () => flow(server)));
      return { cpuMsPerFlow: cpuMs / FLOWS, flowsPerSec: (FLOWS * 1000) / wallMs, cpuMsPerSequentialFlow: sequential.cpuMs / SEQUENTIAL_FLOWS };
    });
    await Promise.all([...agents.values()].map((a) => a.close()));

    const brokerCpu = medianOf(samples.get('broker'), 'cpuMsPerFlow');
    const peerCpu = medianOf(samples.get('peer-nohash'), 'cpuMsPerFlow');
    const mainRatio = ratio(brokerCpu, peerCpu);
    const rows: BenchRow[] = [
      {
        metric: 'CPU per federated login (broker process)',
        unit: 'ms',
        broker: brokerCpu,
        peer: peerCpu,
        ratio: mainRatio,
        target: `<= ${TARGET}x`,
        met: mainRatio !== null && mainRatio <= TARGET,
        note: 'peer: bare oidc-provider login with a plain password compare; broker: discovery cached, upstream code exchange + ID token signature check + claim mapping + vault encryption',
      },
      {
        metric: 'CPU per federated login, one sign-in at a time (concurrency 1)',
        unit: 'ms',
        broker: medianOf(samples.get('broker'), 'cpuMsPerSequentialFlow'),
        peer: medianOf(samples.get('peer-nohash'), 'cpuMsPerSequentialFlow'),
        ratio: ratio(medianOf(samples.get('broker'), 'cpuMsPerSequentialFlow'), medianOf(samples.get('peer-nohash'), 'cpuMsPerSequentialFlow')),
        note: `${SEQUENTIAL_FLOWS} flows per window, right after each concurrent window`,
      },
      {
        metric: `flows/s at concurrency ${CONCURRENCY}`,
        unit: 'flows/s',
        broker: medianOf(samples.get('broker'), 'flowsPerSec'),
        peer: medianOf(samples.get('peer-nohash'), 'flowsPerSec'),
        ratio: ratio(medianOf(samples.get('broker'), 'flowsPerSec'), medianOf(samples.get('peer-nohash'), 'flowsPerSec')),
        note: 'broker wall time includes the in-process upstream',
      },
    ];
    emitResult({ scenario: 'federated-oidc', title: 'Federated login through an upstream OIDC provider', peer: 'bare oidc-provider 9, same settings, memory adapter, minimal interaction handler (no hashing)', rows, method });
  } finally {
    await upstream.close();
  }
});
