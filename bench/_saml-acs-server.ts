// Server child of bench/saml-acs.ts: the real broker (local logins) plus a SAML ACS endpoint on the same event loop, with an
// event-loop delay monitor the parent starts and reads over IPC. The ACS runs Vestibule's connector or samlify's parseLoginResponse
// (with the same libxml2-wasm XSD validator, inline on its event loop, when the schema is on).
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { pino } from 'pino';
import * as samlify from 'samlify';
import { brokerServer } from './lib/servers/broker.js';
import { samlConnectorFactory, type SamlConfig } from '../src/connectors/saml.js';
import { loadSchemaValidator } from '../src/connectors/saml-schema.js';
import type { RedirectConnector } from '../src/connectors/connector.js';
import { MemoryStore } from '../src/store/memory.js';
import type { ReadyLine } from './lib/spec.js';
import { profilerCommand } from './lib/window-profiler.js';

export interface SamlAcsServerSpec {
  acs: 'vestibule' | 'samlify';
  schema: boolean;
  jwksFile: string;
  passwordHash: string;
  idpMetadataXml: string;
  spKey: string;
  spCert: string;
}

/** First stdout line: where to send requests and the SP facts the parent's IdP needs. */
export interface SamlAcsReady extends ReadyLine {
  acsUrl: string;
  spEntityId: string;
  spMetadata: string;
}

const spec = JSON.parse(process.env.SAML_ACS_SPEC ?? '{}') as SamlAcsServerSpec;
let broker: RequestListener = (_req, res) => res.writeHead(503).end();
let acs: (params: Record<string, string>) => Promise<void> = async () => undefined;

async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/bench/acs') return broker(req, res);
  readForm(req)
    .then((params) => acs(params))
    .then(
      () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'),
      (error: { code?: string; message?: string }) => res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error.code ?? error.message)),
    );
});
// Longer than the load generator's keep-alive (30 s), so an idle connection is never closed under a request in flight.
server.keepAliveTimeout = 65_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const issuer = `http://127.0.0.1:${port}`;

const built = await brokerServer({ kind: 'broker', jwksFile: spec.jwksFile, passwordHash: spec.passwordHash, store: { type: 'memory' } }, issuer);
broker = built.handler;

const connectorId = 'bench-saml';
const config = samlConnectorFactory.configSchema.parse({
  idp: { metadataXml: spec.idpMetadataXml },
  sp: { signingKey: spec.spKey, signingCert: spec.spCert },
  // The samlify server uses the connector only for its SP metadata: its workers need not compile the schemas.
  schemaValidation: spec.schema && spec.acs === 'vestibule' ? 'worker' : 'off',
}) as SamlConfig;
const connector = (await samlConnectorFactory.create({ id: connectorId, name: 'Bench SAML', domains: [] }, config, {
  issuer,
  store: new MemoryStore(),
  logger: pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false })),
  now: Date.now,
  baseDir: process.cwd(),
  httpTimeoutMs: 2000,
  production: false,
})) as RedirectConnector & { spMetadata(): string };
const acsUrl = `${issuer}/callback/${connectorId}`;
const spEntityId = `${issuer}/saml/${connectorId}/metadata`;

if (spec.acs === 'vestibule') {
  acs = async ({ SAMLResponse = '', requestId = '' }) => {
    await connector.handleCallback({ method: 'POST', params: { SAMLResponse }, url: new URL(acsUrl) }, { requestId });
  };
} else {
  // samlify's validator contract: resolve when valid, reject otherwise; the broker's validator, inline on this thread.
  const schema = spec.schema ? await loadSchemaValidator() : undefined;
  samlify.setSchemaValidator({
    validate: async (xml: string) => {
      const errors = schema?.(xml);
      if (errors) throw new Error(errors.join(' | '));
      return schema ? 'valid' : 'skipped';
    },
  });
  const idp = samlify.IdentityProvider({ metadata: spec.idpMetadataXml } as never);
  const sp = samlify.ServiceProvider({ metadata: connector.spMetadata(), privateKey: spec.spKey } as never);
  console.log = () => undefined;
  acs = async ({ SAMLResponse = '' }) => {
    await sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse } });
  };
}

let histogram: IntervalHistogram | undefined;
process.on('disconnect', () => process.exit(0));
process.on('message', async (message: { id: number; cmd: 'eld-start' | 'eld-stop' | 'profile-start' | 'profile-stop' | 'exit' }) => {
  const reply = (result: unknown, then?: () => void) => process.send!({ id: message.id, result }, undefined, undefined, then);
  const profiling = profilerCommand(message.cmd);
  if (profiling) {
    reply(await profiling);
  } else if (message.cmd === 'eld-start') {
    histogram?.disable();
    histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    reply(true);
  } else if (message.cmd === 'eld-stop') {
    histogram?.disable();
    const ms = (ns: number) => ns / 1e6;
    reply(histogram ? { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) } : null);
    histogram = undefined;
  } else {
    server.closeAllConnections();
    server.close();
    await connector.close?.();
    await built.close();
    reply(true, () => process.exit(0));
  }
});

const ready: SamlAcsReady = { ready: true, port, pid: process.pid, acsUrl, spEntityId, spMetadata: connector.spMetadata() };
process.stdout.write(`${JSON.stringify(ready)}\n`);
