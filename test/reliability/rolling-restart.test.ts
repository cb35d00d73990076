// Rolling restart of two real broker processes (SIGTERM one at a time, then start it again) behind a load balancer, under API load: no request fails, no token chain breaks, no spent token comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushPrefix, openRedisStore, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';
import { brokerProcess, killAllBrokerProcesses, writeSharedConfig, type BrokerProcess } from './broker-process.js';
import { startFrontProxy, type FrontProxy } from './front-proxy.js';
import { keepAliveAgent, NoAnswer } from './keep-alive-client.js';
import { callOnce, refreshAnswer, ROUND, signIn, spendRefreshToken, type Held, type Outcome } from './token-load.js';

const prefix = testPrefix('rolling');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let proxy: FrontProxy;
const instances: BrokerProcess[] = [];

afterAll(async () => {
  await killAllBrokerProcesses();
  await proxy?.close();
  const store = await openRedisStore({ prefix });
  await flushPrefix(store);
  await store.close();
});

describe('rolling restart under load', () => {
  const outcomes: Outcome[] = [];
  const errors: string[] = [];
  const exitCodes: (number | null)[] = [];
  let duringRestart = 0;
  /** A client's refresh token rotated away before the restarts, and the client's tokens after that rotation. */
  let spent: string;
  let rotated: Held;

  beforeAll(async () => {
    proxy = await startFrontProxy();
    const file = await writeSharedConfig({ issuer: proxy.url, redisUrl: REDIS_URL, prefix, extra: { server: { shutdownTimeoutMs: 20_000 } } });
    for (let i = 0; i < 2; i += 1) instances.push(brokerProcess(file, await freeLoopbackPort()));
    await Promise.all(instances.map((instance) => instance.start()));
    proxy.setBackends(instances.map((instance) => instance.port));
    const sessions = await Promise.all(Array.from({ length: 6 }, () => signIn(proxy.url)));
    rotated = await signIn(proxy.url);
    spent = await spendRefreshToken(proxy.url, rotated);

    let running = true;
    let restarting = false;
    const workers = sessions.map(async (held) => {
      const agent = keepAliveAgent();
      for (let round = 0; running; round += 1) {
        try {
          const result = await callOnce(ROUND[round % ROUND.length]!, proxy.url, agent, held);
          outcomes.push(result);
          if (restarting) duringRestart += 1;
        } catch (error) {
          errors.push(error instanceof NoAnswer ? error.message : String(error));
        }
      }
    });
    await sleep(1000);
    restarting = true;
    for (const instance of instances) {
      exitCodes.push(await instance.stop('SIGTERM'));
      await instance.start();
      await sleep(500);
    }
    restarting = false;
    await sleep(1000);
    running = false;
    await Promise.all(workers);
  }, 300_000);

  it('answers every request correctly while each instance in turn drains and restarts', () => {
    expect(outcomes.filter((result) => !result.ok).map((result) => `${result.op} ${result.status} ${result.detail}`)).toEqual([]);
    expect(errors).toEqual([]);
    expect(proxy.failures).toEqual([]);
    expect(duringRestart).toBeGreaterThan(0);
    console.info(`rolling restart: ${outcomes.length} requests, ${duringRestart} during the restarts, ${proxy.retried} sent to the other instance after a refused or closed connection`);
  });

  it('a refresh token rotated away before the restarts is still refused after them, and its reuse revokes the token that replaced it', async () => {
    expect(await refreshAnswer(proxy.url, spent)).toBe('400 invalid_grant');
    expect(await refreshAnswer(proxy.url, rotated.refreshToken)).toBe('400 invalid_grant');
  });

  it('each instance exits 0 after its drain', () => {
    expect(exitCodes).toEqual([0, 0]);
  });
});
