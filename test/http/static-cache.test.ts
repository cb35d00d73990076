// The answers served ahead of the page middleware (/healthz, discovery, JWKS) carry the same bytes and headers as oidc-provider's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../helpers/broker.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(async () => broker?.close());

describe('static answers', () => {
  it('/healthz answers ok, uncached, with a fresh request id each time', async () => {
    const [first, second] = await Promise.all([fetch(`${broker.issuer}/healthz`), fetch(`${broker.issuer}/healthz`)]);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ status: 'ok' });
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.headers.get('x-content-type-options')).toBe('nosniff');
    expect(first.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
    expect(first.headers.get('access-control-allow-origin')).toBeNull();
  });

  for (const path of ['/.well-known/openid-configuration', '/jwks']) {
    it(`${path}: the cached answer equals oidc-provider's first one, with CORS for the asking origin`, async () => {
      const first = await fetch(broker.issuer + path);
      const firstBody = await first.text();
      const again = await fetch(broker.issuer + path, { headers: { origin: 'https://app.example' } });
      expect(again.status).toBe(200);
      expect(await again.text()).toBe(firstBody);
      expect(Number(again.headers.get('content-length'))).toBe(Buffer.byteLength(firstBody));
      expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
      expect(again.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(again.headers.get('vary')).toMatch(/origin/i);
      expect(again.headers.get('x-request-id')).toBeTruthy();
      const anonymous = await fetch(broker.issuer + path);
      expect(anonymous.headers.get('access-control-allow-origin')).toBe('*');
    });
  }

  it('a query string, another method or another spelling of the path is not served from the cache', async () => {
    await fetch(`${broker.issuer}/jwks`);
    const withQuery = await fetch(`${broker.issuer}/jwks?x=1`);
    expect(withQuery.status).toBe(200);
    // Only answers that went through the page middleware carry the broker's Content-Security-Policy.
    expect(withQuery.headers.get('content-security-policy')).toBeTruthy();
    const posted = await fetch(`${broker.issuer}/healthz`, { method: 'POST' });
    expect(posted.status).not.toBe(200);
    const head = await fetch(`${broker.issuer}/jwks`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-security-policy')).toBeTruthy();
  });
});
