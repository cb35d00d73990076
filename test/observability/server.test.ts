// The separate metrics listener over real HTTP: /metrics only, the token when set, a clear error when the port is taken.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { startMetricsServer } from '../../src/observability/server.js';
import { startBroker } from '../helpers/broker.js';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';
import { sample, scrape } from './scrape.js';

const TOKEN = 'separate-listener-token-0123456789abcdef';
const servers: Server[] = [];
const urlOf = (server: Server, path = '/metrics') => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;

async function start(token?: string) {
  const metrics = createMetrics({ defaults: false });
  const server = await startMetricsServer({ host: '127.0.0.1', port: 0, token, registry: () => metrics.registry });
  servers.push(server);
  return { metrics, server };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('the separate metrics listener', () => {
  it('serves the registry at /metrics, without a token when none is set', async () => {
    const { metrics, server } = await start();
    metrics.rateLimited.inc({ route: 'token', scope: 'ip' });
    expect(sample(await scrape(urlOf(server)), 'vestibule_rate_limited_total', { route: 'token', scope: 'ip' })).toBe(1);
  });

  it('answers 404 elsewhere and 405 to other methods', async () => {
    const { server } = await start();
    for (const path of ['/', '/metrics/', '/healthz', '/metrics/../x']) expect((await fetch(urlOf(server, path))).status).toBe(404);
    const post = await fetch(urlOf(server), { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('requires the token when one is set', async () => {
    const { server } = await start(TOKEN);
    const refused = await fetch(urlOf(server));
    expect(refused.status).toBe(401);
    expect(await refused.text()).toBe('unauthorized\n');
    expect((await fetch(urlOf(server), { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect(await scrape(urlOf(server), TOKEN)).toContain('vestibule_sign_ins_total');
  });

  it('rejects when the port is taken', async () => {
    const { server } = await start();
    const port = (server.address() as AddressInfo).port;
    await expect(startMetricsServer({ host: '127.0.0.1', port, registry: () => createMetrics({ defaults: false }).registry })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('reads the registry at each scrape (a reload swaps the app)', async () => {
    let current = createMetrics({ defaults: false });
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: () => current.registry });
    servers.push(server);
    current.signIns.inc({ connector: 'a', outcome: 'success', reason: 'none' });
    expect(sample(await scrape(urlOf(server)), 'vestibule_sign_ins_total', { connector: 'a', outcome: 'success', reason: 'none' })).toBe(1);
    current = createMetrics({ defaults: false });
    expect(sample(await scrape(urlOf(server)), 'vestibule_sign_ins_total', { connector: 'a', outcome: 'success', reason: 'none' })).toBe(0);
  });

  it('leaves the main port without /metrics when metrics use their own listener', async () => {
    const broker = await startBroker({ config: { metrics: { enabled: true, port: await freeLoopbackPort() } } });
    try {
      const response = await fetch(`${broker.issuer}/metrics`);
      expect(response.status).toBe(404);
      expect(await response.text()).not.toContain('vestibule_');
    } finally {
      await broker.close();
    }
  });
});
