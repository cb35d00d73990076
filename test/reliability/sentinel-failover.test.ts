// Redis Sentinel failover under load of two real broker processes: the primary is SIGKILLed, the sentinels promote the replica, the brokers follow it; the seconds of 503 are measured and printed; a refresh token spent (and replicated) before stays refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCli } from '../helpers/redis.js';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';
import { brokerProcess, killAllBrokerProcesses, writeSharedConfig, type BrokerProcess } from './broker-process.js';
import { startFrontProxy, type FrontProxy } from './front-proxy.js';
import { keepAliveAgent, NoAnswer } from './keep-alive-client.js';
import { MASTER_NAME, startSentinelGroup, type SentinelGroup } from './sentinel.js';
import { callOnce, refreshAnswer, ROUND, signIn, spendRefreshToken, type Held, type Outcome } from './token-load.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A field of INFO replication on the Redis at `port` (a byte offset in the replication stream). */
function replicationOffset(port: number, field: 'master_repl_offset' | 'slave_repl_offset'): number {
  const line = redisCli(port, 'INFO', 'replication').split('\n').find((entry) => entry.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in INFO replication of port ${port}`);
  return Number(line.slice(field.length + 1));
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let group: SentinelGroup;
let proxy: FrontProxy;
const instances: BrokerProcess[] = [];

afterAll(async () => {
  await killAllBrokerProcesses();
  await proxy?.close();
  await group?.close();
});

describe('Redis Sentinel failover under load', () => {
  const outcomes: (Outcome & { at: number })[] = [];
  const errors: string[] = [];
  let sessions: Held[];
  /** A refresh token rotated away (and the rotation replicated) before the kill, and its client's tokens after that rotation. */
  let spent: string;
  let rotated: Held;
  let killedAt = 0;
  let promotedPort = 0;
  let switchedAt = 0;
  let switchedPort = 0;

  beforeAll(async () => {
    group = await startSentinelGroup();
    proxy = await startFrontProxy();
    const file = await writeSharedConfig({
      issuer: proxy.url,
      redisUrl: '',
      prefix: 'vestibule:',
      extra: { store: { sentinels: group.sentinels, sentinelName: MASTER_NAME, commandTimeoutMs: 1000 } },
    });
    for (let i = 0; i < 2; i += 1) instances.push(brokerProcess(file, await freeLoopbackPort()));
    await Promise.all(instances.map((instance) => instance.start()));
    proxy.setBackends(instances.map((instance) => instance.port));
    sessions = await Promise.all(Array.from({ length: 4 }, () => signIn(proxy.url)));
    rotated = await signIn(proxy.url);
    spent = await spendRefreshToken(proxy.url, rotated);
    // Replication is asynchronous: the rotation must have reached the replica for the promoted one to know it (see README, Reliability).
    const spentAt = replicationOffset(group.primary.port, 'master_repl_offset');
    await until(() => replicationOffset(group.replica.port, 'slave_repl_offset') >= spentAt, 'the replica to receive the rotation');

    let running = true;
    const workers = sessions.map(async (held) => {
      const agent = keepAliveAgent();
      for (let round = 0; running; round += 1) {
        try {
          const result = await callOnce(ROUND[round % ROUND.length]!, proxy.url, agent, held);
          outcomes.push({ ...result, at: Date.now() });
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
    killedAt = Date.now();
    await group.primary.kill();
    const deadline = Date.now() + 60_000;
    while (group.masterPort() !== group.replica.port && Date.now() < deadline) await sleep(100);
    promotedPort = group.masterPort();
    // Until a refresh (a write) succeeds after the kill, then two more seconds of load.
    while (!outcomes.some((result) => result.at > killedAt && result.op === 'refresh' && result.ok) && Date.now() < deadline) await sleep(100);
    await sleep(2000);

    // The old primary comes back as a replica; then an operator's SENTINEL FAILOVER promotes it again (no crash: the brokers' connections to the demoted primary stay open).
    await group.primary.start();
    while (!redisCli(group.primary.port, 'INFO', 'replication').includes('master_link_status:up') && Date.now() < deadline + 30_000) await sleep(100);
    switchedAt = Date.now();
    redisCli(Number(group.sentinels[0]!.split(':')[1]), 'SENTINEL', 'FAILOVER', MASTER_NAME);
    while (group.masterPort() !== group.primary.port && Date.now() < deadline + 60_000) await sleep(100);
    switchedPort = group.masterPort();
    while (!outcomes.some((result) => result.at > switchedAt && result.op === 'refresh' && result.ok) && Date.now() < deadline + 60_000) await sleep(100);
    await sleep(2000);
    running = false;
    await Promise.all(workers);
  }, 300_000);

  it('the sentinels promoted the replica, and on SENTINEL FAILOVER the old primary again', () => {
    expect(promotedPort).toBe(group.replica.port);
    expect(switchedPort).toBe(group.primary.port);
  });

  it('every answer is right or a 503 with Retry-After: no 500, no false "not found"', () => {
    const wrong = outcomes.filter((result) => !result.ok && !result.unavailable);
    expect(wrong.map((result) => `${result.op} ${result.status} ${result.detail}`)).toEqual([]);
    expect(errors).toEqual([]);
    expect(proxy.failures).toEqual([]);
  });

  it('a refresh token rotated away before the kill is still refused after both failovers, and its reuse revokes the token that replaced it', async () => {
    expect(await refreshAnswer(proxy.url, spent)).toBe('400 invalid_grant');
    expect(await refreshAnswer(proxy.url, rotated.refreshToken)).toBe('400 invalid_grant');
  });

  /** The 503s of one window, how long after its start the last one came, and what came after it within the window. */
  function window(from: number, to: number) {
    const inside = outcomes.filter((result) => result.at >= from && result.at < to);
    const unavailable = inside.filter((result) => result.unavailable);
    const last = Math.max(from, ...unavailable.map((result) => result.at));
    return { unavailable: unavailable.length, seconds: (last - from) / 1000, after: inside.filter((result) => result.at > last) };
  }

  it('the brokers follow the new primary without a restart: writes succeed again, and the seconds of 503 are reported', () => {
    const crash = window(killedAt, switchedAt);
    const planned = window(switchedAt, Number.MAX_SAFE_INTEGER);
    for (const phase of [crash, planned]) {
      expect(phase.after.some((result) => result.op === 'refresh' && result.ok)).toBe(true);
      expect(phase.after.every((result) => result.ok)).toBe(true);
    }
    expect(instances.every((instance) => instance.running)).toBe(true);
    console.info(
      `sentinel failover: primary killed: ${crash.unavailable} answers 503 over ${crash.seconds.toFixed(1)} s (down-after-milliseconds 1000); SENTINEL FAILOVER: ${planned.unavailable} answers 503 over ${planned.seconds.toFixed(1)} s`,
    );
  });
});
