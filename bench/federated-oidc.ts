// Scenario: CPU per federated login through an upstream OIDC provider (RP -> broker -> upstream login -> broker -> code -> token),
// broker process only, vs a bare oidc-provider login (no password hashing) measured in the same run. Target <= 2.5x.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { startUpstreamOp } from '../src/demo/upstream-oidc.js';
import { freeLoopbackPort } from '../test/helpers/upstream-oidc.js';
import { ServerChild, measureCpu } from './lib/child.js';
import { authorizationRequest, loginFlow, pool, runPool } from './lib/flow.js';
import { alternate, benchPasswordHash, count, medianOf, prepare, runScenario } from './lib/harness.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { BENCH_CLIENT, writeBenchJwks } from './lib/settings.js';
import { ratio } from './lib/stats.js';

const FLOWS = count(120);
const WARMUP = count(30, 5);
const CONCURRENCY = 4;
const TARGET = 2.5;
const UPSTREAM_USER = { username: 'fed-user', password: 'fed-user-password' };

const b64url = (bytes: Buffer) => bytes.toString('base64url');
const basicAuth = `Basic ${Buffer.from(`${encodeURIComponent(BENCH_CLIENT.clientId)}:${encodeURIComponent(BENCH_CLIENT.clientSecret)}`).toString('base64')}`;

/** A browser whose cookie jar is keyed by host: broker and upstream are both oidc-provider and share cookie names. */
class TwoHostBrowser {
  private readonly jars = new Map<string, Map<string, string>>();
  constructor(private readonly agent: Agent) {}

  async send(url: string, form?: Record<string, string>): Promise<{ status: number; location?: string; body: string }> {
    const host = new URL(url).host;
    const jar = this.jars.get(host) ?? new Map<string, string>();
    this.jars.set(host, jar);
    const headers: Record<string, string> = { accept: 'text/html' };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await request(url, { dispatcher: this.agent, method: form ? 'POST' : 'GET', headers, body: form ? new URLSearchParams(form).toString() : undefined });
    const setCookie = response.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const pair = line.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (!value || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    const location = response.headers.location;
    return { status: response.statusCode, location: typeof location === 'string' ? new URL(location, url).href : undefined, body: await response.body.text() };
  }
}

/** One federated login; returns when the broker's token endpoint has issued the ID token. */
async function federatedFlow(agent: Agent, brokerUrl: string): Promise<void> {
  const browser = new TwoHostBrowser(agent);
  const { params, verifier, state } = authorizationRequest({ idp_hint: 'up' });
  let url = `${brokerUrl}/auth?${params}`;
  let form: Record<string, string> | undefined;
  let submitted = false;
  for (let hop = 0; hop < 30; hop++) {
    const response = await browser.send(url, form);
    form = undefined;
    if (response.location?.startsWith(BENCH_CLIENT.redirectUri)) {
      const callback = new URL(response.location);
      const code = callback.searchParams.get('code');
      if (!code || callback.searchParams.get('state') !== state) throw new Error(`broker: no code in ${response.location.slice(0, 200)}`);
      const token = await request(`${brokerUrl}/token`, {
        dispatcher: agent,
        method: 'POST',
        headers: { authorization: basicAuth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: BENCH_CLIENT.redirectUri, code_verifier: verifier }).toString(),
      });
      const body = (await token.body.json()) as { id_token?: string };
      if (token.statusCode !== 200 || !body.id_token) throw new Error(`broker /token: ${token.statusCode}`);
      return;
    }
    if (response.location && response.status >= 300 && response.status < 400) {
      url = response.location;
      continue;
    }
    const action = /action="(\/interaction\/[\w-]+\/login)"/.exec(response.body)?.[1];
    if (response.status !== 200 || !action || submitted) throw new Error(`unexpected page ${url} (${response.status}): ${response.body.slice(0, 300)}`);
    submitted = true;
    url = new URL(action, url).href;
    form = { ...UPSTREAM_USER };
  }
  throw new Error('federated flow did not finish');
}

await runScenario(async (servers) => {
  const method = { ...prepare(), flowsPerRun: FLOWS, warmupFlows: WARMUP, concurrency: CONCURRENCY, upstream: 'oidc-provider 9 in the load-generator process (not measured)', scope: 'openid profile email groups' };
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
      server.name === 'broker' ? federatedFlow(agents.get(server.name)!, server.url) : loginFlow(agents.get(server.name)!, { name: server.name, url: server.url });
    for (const server of servers) await runPool(WARMUP, CONCURRENCY, () => flow(server));

    const samples = await alternate(servers, async (server) => {
      const { cpuMs, wallMs } = await measureCpu(server, () => runPool(FLOWS, CONCURRENCY, () => flow(server)));
      return { cpuMsPerFlow: cpuMs / FLOWS, flowsPerSec: (FLOWS * 1000) / wallMs };
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
