// bench: ACS verification rate (responses/s per core) and event-loop delay p99, vs samlify's own parseLoginResponse on the same signed response.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as samlify from 'samlify';
import { validate as xmllintValidate } from '@authenio/samlify-node-xmllint';
import { makeConnector, solicitedResponse } from '../test/connectors/saml-setup.js';
import { IDP_CERT, SP_KEY } from '../test/helpers/upstream-saml.js';

const DURATION_MS = Number(process.env.BENCH_MS ?? 5000);
const schema = (process.env.SAML_SCHEMA ?? 'worker') as 'worker' | 'off';

async function measure(name: string, run: () => Promise<void>): Promise<{ rate: number; cpuRate: number; p99: number }> {
  for (let i = 0; i < 20; i++) await run();
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  const concurrency = 8;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() - t0 < DURATION_MS) {
        await run();
        n++;
        // Yield to the event loop like real request handling does, so the delay monitor samples it.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  histogram.disable();
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const result = { rate: n / seconds, cpuRate: n / cpuSeconds, p99: histogram.percentile(99) / 1e6 };
  process.stdout.write(`${name}: ${result.rate.toFixed(1)} responses/s wall, ${result.cpuRate.toFixed(1)} responses per CPU-second (all threads), event-loop delay p99 ${result.p99.toFixed(1)} ms\n`);
  return result;
}

const env = await makeConnector({ signaturePolicy: 'assertion', schemaValidation: schema });
env.clock.set(Date.now());
const start = await env.connector.startLogin({ interactionUid: 'u', callbackUrl: env.acsUrl, state: 's' });
const { xml } = await solicitedResponse(env, { now: Date.now(), inResponseTo: start.transactionData.requestId as string, attributes: { email: 'bench@acme.test' } });
const SAMLResponse = Buffer.from(xml).toString('base64');

// Ours: full handleCallback minus the one-time replay cache (a fresh store per call would measure the store).
const { verifyLoginResponse } = await import('../src/connectors/saml-response.js');
const { toTrustedCert } = await import('../src/connectors/saml-signature.js');
const { SchemaValidatorPool } = await import('../src/connectors/saml-schema.js');
const pool = schema === 'worker' ? new SchemaValidatorPool(1) : undefined;
if (pool) await pool.validate(xml);
const options = {
  idpEntityId: env.idp.entityId,
  certs: [toTrustedCert(IDP_CERT)],
  spEntityId: env.spEntityId,
  acsUrl: env.acsUrl,
  expectedRequestId: start.transactionData.requestId as string,
  now: Date.now(),
  clockSkewMs: 120_000,
  signaturePolicy: 'assertion' as const,
  signature: { allowSha1: false },
  requireEncryption: false,
  decryptionKeys: [SP_KEY],
  ...(pool ? { validateSchema: (doc: string) => pool.validate(doc) } : {}),
};

samlify.setSchemaValidator(schema === 'worker' ? { validate: xmllintValidate } : { validate: async () => 'skipped' });
const idp = samlify.IdentityProvider({ metadata: env.idp.metadataXml } as never);
const sp = samlify.ServiceProvider({ metadata: env.connector.spMetadata(), privateKey: SP_KEY } as never);
const silence = console.log;

const ours = await measure(`vestibule verifyLoginResponse (schema ${schema})`, async () => {
  await verifyLoginResponse(Buffer.from(SAMLResponse, 'base64').toString('utf8'), options);
});
console.log = () => {};
const peer = await measure(`samlify parseLoginResponse (schema ${schema === 'worker' ? 'xmllint inline' : 'off'})`, async () => {
  await sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse } });
});
console.log = silence;
console.log(`ratio (per CPU-second) vestibule/samlify: ${(ours.cpuRate / peer.cpuRate).toFixed(2)}x (target >= 0.9x); vestibule p99 ${ours.p99.toFixed(1)} ms (target < 20 ms) vs samlify ${peer.p99.toFixed(1)} ms`);
await pool?.close();
await env.connector.close?.();
