// A SAML connector's metadata URL fetch is timed per connector (endpoint "metadata"), an unreachable one as an error; the worker pool's gauges.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SP_CERT, SP_KEY, TestIdp } from '../helpers/upstream-saml.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closedPortUrl } from '../helpers/upstream-oidc.js';
import { sample, scrape } from './scrape.js';

let idp: Server;
let broker: TestBroker;

beforeAll(async () => {
  idp = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(TestIdp.metadata()));
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  const sp = { signingKey: SP_KEY, signingCert: SP_CERT };
  broker = await startBroker({
    providers: [{ id: 'corp', type: 'saml', name: 'Corp', config: { idp: { metadataUrl: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/idp/descriptor` }, sp, schemaValidation: 'off' } }],
    config: { metrics: { enabled: true, onMainPort: true } },
  });
});

afterAll(async () => {
  await broker?.close();
  await new Promise((resolve) => idp?.close(resolve));
});

describe('SAML metadata fetch timing', () => {
  it('counts the metadata download of the connector', async () => {
    const text = await scrape(`${broker.issuer}/metrics`);
    expect(sample(text, 'vestibule_upstream_request_duration_seconds_count', { connector: 'corp', endpoint: 'metadata', outcome: '2xx' })).toBe(1);
    expect(text).not.toContain('/idp/descriptor');
  });

  it('reports the shared SAML worker pool the connector holds, with nothing queued', async () => {
    const text = await scrape(`${broker.issuer}/metrics`);
    expect(sample(text, 'vestibule_saml_workers')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^vestibule_saml_worker_queue_depth 0$/m);
  });

  it('counts an unreachable metadata URL as an error', async () => {
    const { connectorFetch } = await import('../../src/observability/upstream-fetch.js');
    const metrics = broker.app.metrics;
    await expect(connectorFetch(metrics, 'corp', 'saml')(await closedPortUrl())).rejects.toThrow();
    const text = await scrape(`${broker.issuer}/metrics`);
    expect(sample(text, 'vestibule_upstream_request_duration_seconds_count', { connector: 'corp', endpoint: 'metadata', outcome: 'error' })).toBe(1);
  });
});
