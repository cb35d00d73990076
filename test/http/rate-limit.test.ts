// Rate limits over HTTP, on the memory store and Redis: a burst across two instances sharing one store admits the bucket, the rest get 429 with Retry-After and the RateLimit fields; clients are isolated; a forged client id spends nobody's budget.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore } from '../helpers/redis.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { RedisStore } from '../../src/store/redis.js';

const OTHER = { clientId: 'other-rp', clientSecret: 'other-rp-secret-0123456789abcdefghijklmnop' };
const clientEntry = (c: { clientId: string; clientSecret: string }) => ({ clientId: c.clientId, clientSecret: c.clientSecret, redirectUris: [`http://127.0.0.1:1/${c.clientId}`] });
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const SLOW = 0.01; // tokens per second: a refill interval (100 s) far longer than any test

/** A token request the broker refuses on its merits (unknown refresh token) once the rate limiter lets it through. */
function tokenRequest(base: string, headers: Record<string, string> = {}, form: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'not-a-token', ...form }),
  });
}

const rateLimits = (extra: Record<string, unknown> = {}) => ({
  routes: { token: { perIp: { burst: 1000, perSecond: 1000 }, perClient: { burst: 10, perSecond: SLOW } }, authorization: { perIp: { burst: 5, perSecond: SLOW } } },
  ...extra,
});

describe.each(STORE_BACKENDS)('rate limits (%s store)', (backend, open) => {
  let stores: KeyValueStore[] = [];
  let brokers: TestBroker[] = [];
  afterEach(async () => {
    for (const broker of brokers) await broker.close();
    for (const store of stores) await (store instanceof RedisStore ? disposeRedisStore(store) : closeTestStore(store));
    brokers = [];
    stores = [];
  });

  /** Two instances sharing one store (Redis: two clients of one prefix, as two processes would be). */
  async function twoInstances(config: Record<string, unknown>): Promise<[TestBroker, TestBroker]> {
    const first = await open();
    const second = first instanceof MemoryStore ? first : await openRedisStore({ prefix: (first as RedisStore).prefix });
    stores = first === second ? [first] : [second, first];
    const clients = [clientEntry(TEST_CLIENT), clientEntry(OTHER)];
    brokers = [await startBroker({ store: first, config: { clients, ...config } }), await startBroker({ store: second, config: { clients, ...config } })];
    return brokers as [TestBroker, TestBroker];
  }

  it(`a burst of 100 token requests across two instances admits the client's bucket; the rest get 429 with Retry-After and RateLimit fields (${backend})`, async () => {
    const [a, b] = await twoInstances({ rateLimits: rateLimits() });
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => tokenRequest((i % 2 ? a : b).url, { authorization: basic(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret) })));
    const refillable = Math.ceil(((Date.now() - started) / 1000) * SLOW);
    const admitted = answers.filter((r) => r.status !== 429);
    expect(admitted.length).toBeGreaterThanOrEqual(10);
    expect(admitted.length).toBeLessThanOrEqual(10 + refillable);
    for (const r of admitted) expect((await r.json()) as unknown).toMatchObject({ error: 'invalid_grant' });
    for (const r of answers.filter((x) => x.status === 429)) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(r.headers.get('ratelimit-policy')).toContain('"token-client";q=10;w=1000');
      expect(r.headers.get('ratelimit')).toMatch(/"token-client";r=0;t=\d+/);
      expect(await r.json()).toMatchObject({ error: 'rate_limited', error_description: expect.any(String) });
    }
  });

  it(`clients are isolated, and a wrong or forged secret spends only the per-IP budget (${backend})`, async () => {
    const [a, b] = await twoInstances({ rateLimits: rateLimits() });
    // 40 requests naming test-rp with a wrong secret, by header and by body: none spends test-rp's budget.
    const forged = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 ? tokenRequest(a.url, { authorization: basic(TEST_CLIENT.clientId, 'wrong-secret') }) : tokenRequest(b.url, {}, { client_id: TEST_CLIENT.clientId, client_secret: 'wrong' }),
      ),
    );
    expect(forged.map((r) => r.status)).not.toContain(429);
    // test-rp, authenticating in the body (client_secret_post), still has its whole bucket; the body reaches oidc-provider intact.
    const warn = vi.spyOn(console, 'warn');
    const own = await Promise.all(Array.from({ length: 12 }, () => tokenRequest(a.url, {}, { client_id: TEST_CLIENT.clientId, client_secret: TEST_CLIENT.clientSecret })));
    expect(own.filter((r) => r.status !== 429)).toHaveLength(10);
    // oidc-provider read the grant from the body the limiter had read (not "failed to parse the request body").
    expect(await own.find((r) => r.status !== 429)!.json()).toMatchObject({ error: 'invalid_grant' });
    // The limiter only peeked at the body: oidc-provider read it itself (no "already parsed request body" fallback).
    expect(warn.mock.calls.flat().join(' ')).not.toContain('already parsed');
    warn.mockRestore();
    // other-rp is untouched by test-rp's spent budget.
    const other = await tokenRequest(b.url, { authorization: basic(OTHER.clientId, OTHER.clientSecret) });
    expect(other.status).toBe(400);
    expect(other.headers.get('ratelimit')).toContain('"token-client";r=9;');
  });

  it(`a per-client override replaces the route's budget (${backend})`, async () => {
    const [a] = await twoInstances({ rateLimits: rateLimits({ clients: { [OTHER.clientId]: { token: { burst: 3, perSecond: SLOW } } } }) });
    const answers = await Promise.all(Array.from({ length: 6 }, () => tokenRequest(a.url, { authorization: basic(OTHER.clientId, OTHER.clientSecret) })));
    expect(answers.filter((r) => r.status === 429)).toHaveLength(3);
  });

  it(`browser routes are limited per IP with the error page in the user's language; health, discovery and JWKS are not limited (${backend})`, async () => {
    const [a, b] = await twoInstances({ rateLimits: rateLimits() });
    const auth = (base: string, language = 'en') => fetch(`${base}/auth?client_id=${TEST_CLIENT.clientId}&response_type=code&scope=openid`, { redirect: 'manual', headers: { accept: 'text/html', 'accept-language': language } });
    const first = await Promise.all(Array.from({ length: 5 }, (_, i) => auth(i % 2 ? a.url : b.url)));
    expect(first.map((r) => r.status)).not.toContain(429);
    const refused = await auth(a.url, 'zh-CN');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('ratelimit-policy')).toBe('"authorization-ip";q=5;w=500');
    expect(await refused.text()).toContain('请求过于频繁');
    expect(await (await auth(b.url)).text()).toContain('Too many requests');
    // Each refusal is counted in the instance that answered it.
    expect(await a.app.metrics.registry.getSingleMetricAsString('vestibule_rate_limited_total')).toContain('vestibule_rate_limited_total{route="authorization",scope="ip"} 1');
    for (const path of ['/healthz', '/.well-known/openid-configuration', '/jwks']) {
      const r = await fetch(`${a.url}${path}`);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('ratelimit'), path).toBeNull();
    }
  });

  it(`malformed client credentials are counted per IP and answered by oidc-provider, never a 500 (${backend})`, async () => {
    const [a] = await twoInstances({ rateLimits: rateLimits() });
    const shapes = ['Basic !!!', 'Basic ' + Buffer.from('no-colon').toString('base64'), 'Basic ' + Buffer.from('%zz:%zz').toString('base64'), 'Bearer x', 'Basic ' + 'A'.repeat(20_000)];
    for (const authorization of shapes) {
      const r = await tokenRequest(a.url, { authorization });
      expect(r.status, authorization.slice(0, 20)).toBeGreaterThanOrEqual(400);
      expect(r.status, authorization.slice(0, 20)).toBeLessThan(500);
      expect(r.headers.get('ratelimit') ?? '', authorization.slice(0, 20)).not.toContain('token-client');
    }
    const repeated = await fetch(`${a.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `client_id=${TEST_CLIENT.clientId}&client_id=x&client_secret=${TEST_CLIENT.clientSecret}&grant_type=refresh_token&refresh_token=x` });
    expect(repeated.status).toBe(400);
    expect(repeated.headers.get('ratelimit') ?? '').not.toContain('token-client');
  });

  it(`a body without Content-Length, or larger than oidc-provider reads, authenticates no client and is answered by oidc-provider (${backend})`, async () => {
    const [a] = await twoInstances({ rateLimits: rateLimits() });
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: TEST_CLIENT.clientId, client_secret: TEST_CLIENT.clientSecret }).toString();
    const chunked = await fetch(`${a.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(form)), c.close()) }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(400);
    expect(await chunked.json()).toMatchObject({ error: 'invalid_grant' });
    expect(chunked.headers.get('ratelimit')).not.toContain('token-client');
    const oversized = await tokenRequest(a.url, {}, { client_id: TEST_CLIENT.clientId, client_secret: TEST_CLIENT.clientSecret, padding: 'p'.repeat(60 * 1024) });
    expect(oversized.status).toBe(400);
    expect(await oversized.json()).toMatchObject({ error: 'invalid_request' });
    expect(oversized.headers.get('ratelimit')).not.toContain('token-client');
  });

  it(`rateLimits.enabled false answers every request (${backend})`, async () => {
    const [a] = await twoInstances({ rateLimits: rateLimits({ enabled: false }) });
    const answers = await Promise.all(Array.from({ length: 15 }, () => tokenRequest(a.url, { authorization: basic(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret) })));
    expect(answers.map((r) => r.status)).not.toContain(429);
  });
});
