// SIGTERM to a real broker process under keep-alive load: in-flight requests are answered (Connection: close), no request is cut, exit 0; the watchdog exits 1 only when the timeout runs out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushPrefix, openRedisStore, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';
import { brokerProcess, killAllBrokerProcesses, writeSharedConfig, type BrokerProcess } from './broker-process.js';
import { basicAuth, keepAliveAgent, NoAnswer, send, type Answer } from './keep-alive-client.js';
import { callOnce, ROUND, signIn, type Held, type Outcome } from './token-load.js';
import { TEST_CLIENT } from '../helpers/broker.js';

const prefix = testPrefix('drain');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startInstance(server: Record<string, number>): Promise<BrokerProcess> {
  const port = await freeLoopbackPort();
  const file = await writeSharedConfig({ issuer: `http://127.0.0.1:${port}`, redisUrl: REDIS_URL, prefix, extra: { server } });
  const instance = brokerProcess(file, port);
  await instance.start();
  return instance;
}

/** A refresh grant whose body arrives in pieces over `pieces * pauseMs`: a request in flight for that long. */
function slowRefresh(instance: BrokerProcess, held: Held, pieces: number, pauseMs: number, onFirstPiece: () => void): Promise<Answer> {
  return send(keepAliveAgent(), `${instance.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret) },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: held.refreshToken }).toString(),
    trickle: { pieces, pauseMs, onFirstPiece },
  });
}

afterAll(async () => {
  await killAllBrokerProcesses();
  const store = await openRedisStore({ prefix });
  await flushPrefix(store);
  await store.close();
});

describe('SIGTERM under keep-alive load', () => {
  let instance: BrokerProcess;
  let exitCode: number | null;
  let slow: Answer;
  const outcomes: Outcome[] = [];
  const afterSignal: Outcome[] = [];
  const ends: string[] = [];
  const noAnswers: NoAnswer[] = [];
  /** Per client: the broker told it to close its connection (Connection: close, or its idle connection closed). */
  const toldToClose: boolean[] = [];

  beforeAll(async () => {
    instance = await startInstance({ shutdownTimeoutMs: 20_000 });
    const sessions = await Promise.all(Array.from({ length: 5 }, () => signIn(`http://127.0.0.1:${instance.port}`)));
    const slowSession = sessions.pop()!;
    let signalled = false;

    // Four clients, each on one kept-alive connection, call the API without pause until the listener refuses them.
    const workers = sessions.map(async (held, worker) => {
      toldToClose[worker] = false;
      let agent = keepAliveAgent();
      for (let round = 0; ; round += 1) {
        const op = ROUND[round % ROUND.length]!;
        try {
          const result = await callOnce(op, instance.url, agent, held);
          outcomes.push(result);
          if (signalled) afterSignal.push(result);
          if (result.connectionClose) toldToClose[worker] = true;
        } catch (error) {
          if (!(error instanceof NoAnswer)) throw error;
          noAnswers.push(error);
          if (error.code === 'ECONNREFUSED') return ends.push('refused');
          // An idle kept-alive connection closed by the broker: like a proxy, try a new connection.
          if (error.reusedSocket && error.code === 'ECONNRESET') {
            toldToClose[worker] = true;
            agent.destroy();
            agent = keepAliveAgent();
            continue;
          }
          return ends.push(`cut: ${error.message}`);
        }
      }
    });

    await sleep(1500);
    // A request in flight when SIGTERM arrives: its body takes 2 s more to arrive.
    let stopping!: Promise<number | null>;
    slow = await slowRefresh(instance, slowSession, 10, 200, () => {
      void sleep(150).then(() => {
        signalled = true;
        stopping = instance.stop('SIGTERM');
      });
    });
    exitCode = await stopping;
    await Promise.all(workers);
  }, 120_000);

  it('answers the request in flight (its body still arriving) with new tokens', () => {
    expect(slow.status).toBe(200);
    expect(JSON.parse(slow.body)).toMatchObject({ token_type: 'Bearer', refresh_token: expect.any(String) });
    expect(slow.headers.connection).toBe('close');
  });

  it('answers every request it took correctly, during the drain too, and tells kept-alive clients to close', () => {
    expect(outcomes.filter((result) => !result.ok)).toEqual([]);
    expect(afterSignal.length).toBeGreaterThan(0);
    expect(toldToClose).toEqual([true, true, true, true]);
    console.info(`drain: ${outcomes.length} requests answered, ${afterSignal.length} after SIGTERM; connections closed under an idle client: ${noAnswers.filter((e) => e.reusedSocket).length}`);
  });

  it('cuts no request: every client ends on a refused new connection', () => {
    expect(ends).toEqual(['refused', 'refused', 'refused', 'refused']);
    expect(noAnswers.filter((error) => !(error.code === 'ECONNREFUSED' || (error.reusedSocket && error.code === 'ECONNRESET')))).toEqual([]);
  });

  it('exits 0 once drained, after closing the store', () => {
    expect(exitCode).toBe(0);
    expect(instance.output()).toContain('"msg":"stopped"');
    expect(instance.output()).not.toMatch(/ran out|did not finish/);
  });
});

describe('SIGTERM with a request that outlasts server.shutdownTimeoutMs', () => {
  it('exits 1 when the timeout runs out, and says so', async () => {
    const instance = await startInstance({ shutdownTimeoutMs: 1500 });
    const held = await signIn(`http://127.0.0.1:${instance.port}`);
    let stopping!: Promise<number | null>;
    const slow = slowRefresh(instance, held, 40, 200, () => void sleep(300).then(() => (stopping = instance.stop('SIGTERM')))).catch((error: unknown) => error);
    await sleep(400);
    expect(await stopping).toBe(1);
    expect(instance.output()).toContain('shutdown timeout ran out with requests in flight');
    expect(await slow).toBeInstanceOf(NoAnswer);
  }, 120_000);
});
