// Redis (AOF, appendfsync always) SIGKILLed under load of two real broker processes, then restarted: 503 with Retry-After meanwhile (never a 500, never a false "not found"), recovery without a restart, every session and refresh token kept, every spent one still refused.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CLIENT } from '../helpers/broker.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { authorizationRequest, loginAndExchange } from '../helpers/rp.js';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';
import { brokerProcess, killAllBrokerProcesses, writeSharedConfig, type BrokerProcess } from './broker-process.js';
import { startFrontProxy, type FrontProxy } from './front-proxy.js';
import { keepAliveAgent, NoAnswer } from './keep-alive-client.js';
import { callOnce, refreshAnswer, ROUND, signIn, spendRefreshToken, type Held, type Outcome } from './token-load.js';

type Phase = 'before' | 'down' | 'recovering' | 'after';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let redis: RedisServer;
let proxy: FrontProxy;
const instances: BrokerProcess[] = [];

afterAll(async () => {
  await killAllBrokerProcesses();
  await proxy?.close();
  await redis?.destroy();
});

async function ready(instance: BrokerProcess): Promise<boolean> {
  return (await fetch(`${instance.url}/readyz`)).status === 200;
}

describe('Redis killed under load, then restarted', () => {
  const outcomes: (Outcome & { phase: Phase })[] = [];
  const errors: string[] = [];
  let untouched: Held;
  /** A refresh token rotated away before the kill, and its client's tokens after that rotation. */
  let spent: string;
  let rotated: Held;
  let sso: Awaited<ReturnType<typeof loginAndExchange>>;
  let readyWhileDown: boolean[] = [];
  let outageMs = 0;

  beforeAll(async () => {
    redis = await startRedisServer({ aof: true });
    proxy = await startFrontProxy();
    const file = await writeSharedConfig({ issuer: proxy.url, redisUrl: redis.url, prefix: 'vestibule:', extra: { store: { commandTimeoutMs: 1000 } } });
    for (let i = 0; i < 2; i += 1) instances.push(brokerProcess(file, await freeLoopbackPort()));
    await Promise.all(instances.map((instance) => instance.start()));
    proxy.setBackends(instances.map((instance) => instance.port));
    const sessions = await Promise.all(Array.from({ length: 4 }, () => signIn(proxy.url)));
    untouched = await signIn(proxy.url);
    rotated = await signIn(proxy.url);
    spent = await spendRefreshToken(proxy.url, rotated);
    sso = await loginAndExchange(proxy.url, { params: { scope: 'openid email offline_access', prompt: 'consent' } });

    let phase: Phase = 'before';
    let running = true;
    const workers = sessions.map(async (held) => {
      const agent = keepAliveAgent();
      for (let round = 0; running; round += 1) {
        try {
          const result = await callOnce(ROUND[round % ROUND.length]!, proxy.url, agent, held);
          outcomes.push({ ...result, phase });
          // Retry the same call soon (Retry-After is 5 s; the test is in a hurry).
          if (result.unavailable) {
            round -= 1;
            await sleep(50);
          }
        } catch (error) {
          errors.push(error instanceof NoAnswer ? error.message : String(error));
        }
      }
    });
    await sleep(1000);
    phase = 'down';
    const killedAt = Date.now();
    await redis.kill();
    await sleep(3000);
    readyWhileDown = await Promise.all(instances.map(ready));
    phase = 'recovering';
    await redis.start();
    while (!(await Promise.all(instances.map(ready))).every(Boolean)) await sleep(50);
    outageMs = Date.now() - killedAt;
    phase = 'after';
    await sleep(2000);
    running = false;
    await Promise.all(workers);
  }, 300_000);

  it('while Redis is down, every answer is right or a 503 with Retry-After: no 500, no false "not found"', () => {
    const wrong = outcomes.filter((result) => !result.ok && !result.unavailable);
    expect(wrong.map((result) => `${result.phase} ${result.op} ${result.status} ${result.detail}`)).toEqual([]);
    expect(outcomes.filter((result) => result.status === 500)).toEqual([]);
    expect(outcomes.filter((result) => result.phase === 'down' && result.unavailable).length).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(proxy.failures).toEqual([]);
    const count = (phase: Phase, unavailable: boolean) => outcomes.filter((result) => result.phase === phase && result.unavailable === unavailable).length;
    console.info(
      `redis kill: outage ${outageMs} ms (3 s down + restart); answered right: before ${count('before', false)}, down ${count('down', false)} (discovery), recovering ${count('recovering', false)}, after ${count('after', false)}; 503: down ${count('down', true)}, recovering ${count('recovering', true)}`,
    );
  });

  it('/readyz is red on both instances while Redis is down', () => {
    expect(readyWhileDown).toEqual([false, false]);
  });

  it('recovers without a restart: every call answers right again', () => {
    const after = outcomes.filter((result) => result.phase === 'after');
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((result) => result.ok)).toBe(true);
    expect(instances.every((instance) => instance.running)).toBe(true);
  });

  it('a refresh token issued before the kill and not used since still works (AOF)', async () => {
    const agent = keepAliveAgent();
    const refreshed = await callOnce('refresh', proxy.url, agent, untouched);
    expect(refreshed.ok).toBe(true);
    expect((await callOnce('userinfo', proxy.url, agent, untouched)).ok).toBe(true);
  });

  it('a refresh token rotated away before the kill is still refused after the restart (AOF kept its consumption), and its reuse revokes the token that replaced it', async () => {
    expect(await refreshAnswer(proxy.url, spent)).toBe('400 invalid_grant');
    expect(await refreshAnswer(proxy.url, rotated.refreshToken)).toBe('400 invalid_grant');
  });

  it('the browser session from before the kill still signs in silently (prompt=none)', async () => {
    const request = await authorizationRequest(sso.config, TEST_CLIENT, { prompt: 'none', scope: 'openid email' });
    const page = await sso.browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    const callback = new URL(page.url);
    expect(callback.searchParams.get('error')).toBeNull();
    const tokens = await oidc.authorizationCodeGrant(sso.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    expect(tokens.claims()?.sub).toBe(sso.tokens.claims()?.sub);
  });
});
