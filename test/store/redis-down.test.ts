// Redis killed mid-login: 503 with Retry-After (never a 500 or a hang), /readyz red, then recovery without a restart and AOF-kept sessions.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisStore } from '../../src/store/redis.js';
import { Browser } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { openRedisStore, startRedisServer, type RedisServer } from '../helpers/redis.js';
import { authorizationRequest, discoverRp, loginAndExchange } from '../helpers/rp.js';

let redis: RedisServer;
let store: RedisStore;
let broker: TestBroker;

beforeAll(async () => {
  redis = await startRedisServer({ aof: true });
  store = await openRedisStore({ connection: { url: redis.url, commandTimeoutMs: 1000 } });
  broker = await startBroker({ store, config: { store: { type: 'redis' } } });
});

afterAll(async () => {
  await broker?.close();
  await store?.close();
  await redis?.destroy();
});

async function readyz(): Promise<number> {
  return (await fetch(`${broker.url}/readyz`)).status;
}

describe('Redis killed in the middle of a login', () => {
  let before: Awaited<ReturnType<typeof loginAndExchange>>;
  let interrupted: { browser: Browser; status: number; retryAfter: string | null; body: string };
  let tokenWhileDown: Response;
  let readyWhileDown: number;

  beforeAll(async () => {
    before = await loginAndExchange(broker.issuer, { params: { scope: 'openid email offline_access', prompt: 'consent' } });
    expect(await readyz()).toBe(200);

    // A second user agent is on the login form when Redis dies.
    const config = await discoverRp(broker.issuer);
    const request = await authorizationRequest(config, TEST_CLIENT);
    const browser = new Browser();
    const loginPage = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    expect(loginPage.status).toBe(200);

    await redis.kill();
    const answer = await browser.submit(loginPage, '/login', { username: TEST_USER.username, password: TEST_USER.password }, TEST_CLIENT.redirectUri);
    interrupted = { browser, status: answer.status, retryAfter: answer.headers.get('retry-after'), body: answer.body };
    tokenWhileDown = await fetch(`${broker.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${TEST_CLIENT.clientId}:${TEST_CLIENT.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.tokens.refresh_token! }),
    });
    readyWhileDown = await readyz();

    await redis.start();
    for (let i = 0; i < 200 && (await readyz()) !== 200; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
  });

  it('the in-flight login form post gets a 503 page with Retry-After, not a 500', () => {
    expect(interrupted.status).toBe(503);
    expect(Number(interrupted.retryAfter)).toBeGreaterThan(0);
    expect(interrupted.body).toMatch(/<html/i);
  });

  it('a token request while Redis is down gets a 503 temporarily_unavailable JSON error with Retry-After', async () => {
    expect(tokenWhileDown.status).toBe(503);
    expect(Number(tokenWhileDown.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await tokenWhileDown.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });

  it('/readyz is red while Redis is down and green again after it restarts', async () => {
    expect(readyWhileDown).toBe(503);
    expect(await readyz()).toBe(200);
  });

  it('tokens and the SSO session written before the crash are still valid after the restart (AOF)', async () => {
    const refreshed = await oidc.refreshTokenGrant(before.config, before.tokens.refresh_token!);
    expect(refreshed.claims()?.sub).toBe(before.tokens.claims()?.sub);

    const request = await authorizationRequest(before.config, TEST_CLIENT, { prompt: 'none', scope: 'openid email' });
    const page = await before.browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    const callback = new URL(page.url);
    expect(callback.searchParams.get('error')).toBeNull();
    expect(callback.searchParams.get('code')).toBeTruthy();
  });

  it('the same user can log in again without restarting the broker', async () => {
    const again = await loginAndExchange(broker.issuer, { browser: interrupted.browser });
    expect(again.tokens.claims()?.sub).toBe(before.tokens.claims()?.sub);
  });
});
