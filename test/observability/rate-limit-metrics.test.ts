// Rate-limit refusals reach /metrics: the limiter counts each 429 by route and budget through metrics.rateLimited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { sample, scrape } from './scrape.js';

let broker: TestBroker;

beforeAll(async () => {
  broker = await startBroker({
    config: { metrics: { enabled: true, onMainPort: true }, rateLimits: { routes: { token: { perIp: { burst: 2, perSecond: 0.001 }, perClient: false } } } },
  });
});
afterAll(async () => broker?.close());

describe('rate-limit refusals in /metrics', () => {
  it('counts every 429 of the token endpoint under route "token", budget "ip"', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${broker.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      statuses.push(response.status);
    }
    const refused = statuses.filter((status) => status === 429).length;
    expect(refused).toBe(3);
    const text = await scrape(`${broker.issuer}/metrics`);
    expect(sample(text, 'vestibule_rate_limited_total', { route: 'token', scope: 'ip' })).toBe(refused);
  });
});
