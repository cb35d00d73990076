// A broker process SIGKILLed between the redirect to the upstream and the callback: the other process finishes the sign-in from the state in Redis, and the callback cannot be replayed.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, type Page } from '../helpers/browser.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { flushPrefix, openRedisStore, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';
import { brokerProcess, killAllBrokerProcesses, writeSharedConfig, type BrokerProcess } from './broker-process.js';
import { startFrontProxy, type FrontProxy } from './front-proxy.js';

const prefix = testPrefix('crash');
let proxy: FrontProxy;
let upstream: TestUpstream;
let first: BrokerProcess;
let second: BrokerProcess;

beforeAll(async () => {
  proxy = await startFrontProxy();
  upstream = await startTestUpstream({ brokerIssuer: proxy.url, connectorId: 'acme' });
  const file = await writeSharedConfig({
    issuer: proxy.url,
    redisUrl: REDIS_URL,
    prefix,
    providers: [{ id: 'acme', type: 'oidc', name: 'ACME SSO', domains: ['acme.test'], config: upstream.connectorConfig() }],
  });
  first = brokerProcess(file, await freeLoopbackPort());
  second = brokerProcess(file, await freeLoopbackPort());
  await Promise.all([first.start(), second.start()]);
}, 120_000);

afterAll(async () => {
  await killAllBrokerProcesses();
  await proxy?.close();
  await upstream?.close();
  const store = await openRedisStore({ prefix });
  await flushPrefix(store);
  await store.close();
});

describe('an instance dies mid-sign-in', () => {
  let config: oidc.Configuration;
  let atUpstream: Page;
  let callback: Page;
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  let killedExit: number | null;

  beforeAll(async () => {
    proxy.setBackends([first.port]);
    config = await discoverRp(proxy.url);
    const request = await authorizationRequest(config, TEST_CLIENT, { scope: 'openid email offline_access', prompt: 'consent' });
    const browser = new Browser();
    atUpstream = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);

    // The instance that started the sign-in dies; the load balancer now finds only the other one.
    killedExit = await first.stop('SIGKILL');
    proxy.setBackends([first.port, second.port]);

    callback = await browser.submit(atUpstream, '/login', { username: 'alice', password: 'alice-pw' }, `${proxy.url}/callback/`);
    const finished = await browser.follow(callback.url, {}, TEST_CLIENT.redirectUri);
    const rpCallback = await completeLogin(browser, finished, TEST_CLIENT.redirectUri);
    tokens = await oidc.authorizationCodeGrant(config, rpCallback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
  }, 120_000);

  it('the first instance sent the browser to the upstream, then was killed', () => {
    expect(atUpstream.url.startsWith(upstream.issuer)).toBe(true);
    expect(killedExit).toBeNull();
    expect(first.running).toBe(false);
  });

  it('the other instance finishes the sign-in: code, tokens and the upstream identity', async () => {
    expect(tokens.claims()).toMatchObject({ iss: proxy.url, aud: TEST_CLIENT.clientId, email: 'alice@acme.test' });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()?.sub).toBe(tokens.claims()?.sub);
    expect(second.output()).toContain('/callback/acme');
  });

  it('the same upstream callback replayed (another browser, no cookie) is refused', async () => {
    const replay = await new Browser().follow(callback.url, {}, TEST_CLIENT.redirectUri);
    expect(replay.status).toBeGreaterThanOrEqual(400);
    expect(replay.status).toBeLessThan(500);
    expect(replay.url.startsWith(TEST_CLIENT.redirectUri)).toBe(false);
  });
});
