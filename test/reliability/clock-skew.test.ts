// Clock skew of ±2 minutes between broker processes and the upstream (libfaketime shifts each process's clock): sign-ins, cross-instance tokens and the upstream ID token's exp check behave per their documented tolerances.
import { existsSync } from 'node:fs';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { flushPrefix, openRedisStore, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';
import { brokerProcess, killAllBrokerProcesses, writeSharedConfig, type BrokerProcess } from './broker-process.js';
import { startFrontProxy, type FrontProxy } from './front-proxy.js';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const prefix = testPrefix('skew');
let proxy: FrontProxy;
let strict: TestUpstream;
let wide: TestUpstream;
/** Two minutes ahead of the upstreams (and of Redis and this test). */
let ahead: BrokerProcess;
/** Two minutes behind. */
let behind: BrokerProcess;
let rp: oidc.Configuration;

/** The environment that shifts a process's wall clock by `seconds` (its monotonic clock is left alone: timers run normally). */
const shifted = (seconds: number) => ({ LD_PRELOAD: LIBFAKETIME, FAKETIME: `${seconds >= 0 ? '+' : ''}${seconds}`, FAKETIME_DONT_FAKE_MONOTONIC: '1' });

beforeAll(async () => {
  if (!existsSync(LIBFAKETIME)) throw new Error(`${LIBFAKETIME} is missing: apt-get install faketime (.ci/run does)`);
  proxy = await startFrontProxy();
  // ID tokens that live one minute: a broker two minutes ahead sees them expired a minute ago.
  strict = await startTestUpstream({ brokerIssuer: proxy.url, connectorId: 'strict', ttl: { idToken: 60 } });
  wide = await startTestUpstream({ brokerIssuer: proxy.url, connectorId: 'wide', ttl: { idToken: 60 } });
  const file = await writeSharedConfig({
    issuer: proxy.url,
    redisUrl: REDIS_URL,
    prefix,
    providers: [
      { id: 'strict', type: 'oidc', name: 'Strict SSO', domains: ['strict.test'], config: strict.connectorConfig() },
      { id: 'wide', type: 'oidc', name: 'Wide SSO', domains: ['wide.test'], config: wide.connectorConfig({ clockToleranceSec: 150 }) },
    ],
  });
  ahead = brokerProcess(file, await freeLoopbackPort(), shifted(120));
  behind = brokerProcess(file, await freeLoopbackPort(), shifted(-120));
  await Promise.all([ahead.start(), behind.start()]);
  proxy.setBackends([ahead.port]);
  rp = await discoverRp(proxy.url);
}, 120_000);

afterAll(async () => {
  await killAllBrokerProcesses();
  await proxy?.close();
  await strict?.close();
  await wide?.close();
  const store = await openRedisStore({ prefix });
  await flushPrefix(store);
  await store.close();
});

/** A federated sign-in through `connector`, every request to `instance`; the RP callback URL, or the page that refused it. */
async function signIn(instance: BrokerProcess, connector: string) {
  proxy.setBackends([instance.port]);
  const request = await authorizationRequest(rp, TEST_CLIENT, { scope: 'openid email offline_access', prompt: 'consent', idp_hint: connector });
  const browser = new Browser();
  const atUpstream = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  const back = await browser.submit(atUpstream, '/login', { username: 'alice', password: 'alice-pw' }, TEST_CLIENT.redirectUri);
  if (back.status >= 400) return { refused: back };
  const callback = await completeLogin(browser, back, TEST_CLIENT.redirectUri);
  return { request, callback };
}

const exchange = (signedIn: Awaited<ReturnType<typeof signIn>>) =>
  oidc.authorizationCodeGrant(rp, signedIn.callback!, { pkceCodeVerifier: signedIn.request!.verifier, expectedState: signedIn.request!.state, expectedNonce: signedIn.request!.nonce });

describe('clock skew of two minutes', () => {
  it('the shifted processes really run two minutes ahead and behind', async () => {
    const dateOf = async (instance: BrokerProcess) => Date.parse((await fetch(`${instance.url}/healthz`)).headers.get('date')!);
    expect((await dateOf(ahead)) - Date.now()).toBeGreaterThan(110_000);
    expect(Date.now() - (await dateOf(behind))).toBeGreaterThan(110_000);
  });

  it('an instance two minutes behind the upstream signs in: exp is in its future, and iat is not compared with its clock (OIDC Core leaves that to the RP)', async () => {
    const signedIn = await signIn(behind, 'strict');
    expect(signedIn.refused).toBeUndefined();
    expect((await exchange(signedIn)).claims()).toMatchObject({ email: 'alice@acme.test' });
  });

  it('an instance two minutes ahead refuses an upstream ID token that expired (by its clock) more than clockToleranceSec 30 ago, with a safe page', async () => {
    const signedIn = await signIn(ahead, 'strict');
    expect(signedIn.refused?.status).toBeGreaterThanOrEqual(400);
    expect(signedIn.refused?.body).toMatch(/role="alert"/);
    expect(signedIn.refused?.body).toContain('<code>invalid_id_token</code>');
    expect(signedIn.refused?.body).not.toMatch(/"exp"|claim|\bat \S+ \(/);
    expect(ahead.output()).toMatch(/exp|expired/i);
  });

  it('with clockToleranceSec 150 the same instance signs in', async () => {
    const signedIn = await signIn(ahead, 'wide');
    expect(signedIn.refused).toBeUndefined();
    expect((await exchange(signedIn)).claims()).toMatchObject({ email: 'alice@acme.test' });
  });

  it('refresh tokens and access tokens issued by one instance work at the other (their lifetimes are far longer than the skew)', async () => {
    const fromAhead = await exchange(await signIn(ahead, 'wide'));
    const fromBehind = await exchange(await signIn(behind, 'strict'));
    proxy.setBackends([behind.port]);
    expect((await oidc.refreshTokenGrant(rp, fromAhead.refresh_token!)).claims()?.sub).toBe(fromAhead.claims()?.sub);
    expect(await oidc.fetchUserInfo(rp, fromAhead.access_token, fromAhead.claims()!.sub)).toMatchObject({ sub: fromAhead.claims()!.sub });
    proxy.setBackends([ahead.port]);
    expect((await oidc.refreshTokenGrant(rp, fromBehind.refresh_token!)).claims()?.sub).toBe(fromBehind.claims()?.sub);
  });

  it('an authorization code (60 s) issued by the instance behind is expired for the instance four minutes ahead of it: instance clocks must agree within the code lifetime', async () => {
    const signedIn = await signIn(behind, 'wide');
    proxy.setBackends([ahead.port]);
    await expect(exchange(signedIn)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
