// Authorization of a Client ID Metadata Document client (its document cached) against a configured public client, same broker, same run: CPU per /auth request in the broker process.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, type Agent } from 'undici';
import { testCertificate } from '../test/helpers/tls.js';
import { ServerChild, measureCpu } from './lib/child.js';
import { authorizationRequest, pool, runPool } from './lib/flow.js';
import { benchPasswordHash, count, prepare, REPEATS, runScenario } from './lib/harness.js';
import { emitResult } from './lib/report.js';
import { BENCH_CLIENT, BENCH_CLIENT_CONFIG, writeBenchJwks } from './lib/settings.js';
import { median, ratio } from './lib/stats.js';

const REQUESTS = count(400, 50);
const WARMUP = count(100, 20);
const CONCURRENCY = 4;
const TARGET = 1.1;
const PUBLIC_CLIENT = 'bench-public';

/** One authorization request, answered with the redirect to the interaction (the client looked up and checked, the interaction saved). */
async function authorize(agent: Agent, url: string, clientId: string): Promise<void> {
  const { params } = authorizationRequest({ client_id: clientId });
  const response = await request(`${url}/auth?${params}`, { dispatcher: agent, headers: { accept: 'text/html' } });
  await response.body.dump();
  if (response.statusCode !== 303 || !String(response.headers.location).includes('/interaction/')) throw new Error(`${clientId}: /auth answered ${response.statusCode}`);
}

await runScenario(async (servers) => {
  const method = { ...prepare(), requestsPerRun: REQUESTS, warmup: WARMUP, concurrency: CONCURRENCY, store: 'memory', note: 'GET /auth without a session up to its 303 to the interaction; both clients public with PKCE; the document is fetched once (max-age=3600) during the warm-up' };
  // The document is served over https on loopback; the broker child trusts the throw-away CA through NODE_EXTRA_CA_CERTS.
  const certificate = testCertificate(['localhost']);
  const caFile = join(tmpdir(), `vestibule-bench-ca-${process.pid}.pem`);
  writeFileSync(caFile, certificate.ca);
  process.env.NODE_EXTRA_CA_CERTS = caFile;
  let fetches = 0;
  let documentId = '';
  const host = createServer({ key: certificate.key, cert: certificate.cert }, (_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' });
    res.end(JSON.stringify({ client_id: documentId, client_name: 'Bench agent', redirect_uris: [BENCH_CLIENT.redirectUri], token_endpoint_auth_method: 'none' }));
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  documentId = `https://127.0.0.1:${(host.address() as AddressInfo).port}/client.json`;
  try {
    const jwksFile = await writeBenchJwks();
    const passwordHash = await benchPasswordHash();
    const broker = await ServerChild.start('broker', {
      kind: 'broker',
      jwksFile,
      passwordHash,
      store: { type: 'memory' },
      config: {
        clients: [BENCH_CLIENT_CONFIG, { clientId: PUBLIC_CLIENT, public: true, redirectUris: [BENCH_CLIENT.redirectUri] }],
        authorizationServer: { clientIdMetadataDocument: { enabled: true, allowedAddresses: ['loopback'] } },
      },
    });
    servers.push(broker);
    const agent = pool(CONCURRENCY);
    const kinds = [
      ['configured', PUBLIC_CLIENT],
      ['metadata-document', documentId],
    ] as const;
    for (const [, clientId] of kinds) await runPool(WARMUP, CONCURRENCY, () => authorize(agent, broker.url, clientId));
    const samples = new Map<string, number[]>(kinds.map(([kind]) => [kind, []]));
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      for (const [kind, clientId] of repeat % 2 === 0 ? kinds : [...kinds].reverse()) {
        const { cpuMs } = await measureCpu(broker, () => runPool(REQUESTS, CONCURRENCY, () => authorize(agent, broker.url, clientId)));
        samples.get(kind)!.push(cpuMs / REQUESTS);
        process.stderr.write(`  [${kind} #${repeat + 1}] cpuMsPerRequest=${(cpuMs / REQUESTS).toFixed(3)}\n`);
      }
    }
    await agent.close();
    const configured = median(samples.get('configured')!);
    const document = median(samples.get('metadata-document')!);
    const measured = ratio(document, configured);
    emitResult({
      scenario: 'client-metadata-document',
      title: `Authorization of a cached Client ID Metadata Document client vs a configured client (median of ${REPEATS})`,
      peer: 'a configured public client on the same broker, same run',
      rows: [
        { metric: 'broker CPU per authorization request (/auth -> interaction)', unit: 'ms', broker: document, peer: configured, ratio: measured, target: `<= ${TARGET}x`, met: measured !== null && measured <= TARGET, note: `document fetched ${fetches} time(s) in the whole run` },
      ],
      method,
    });
  } finally {
    await new Promise<void>((resolve) => host.close(() => resolve()));
  }
});
