// Slow clients against a real broker process: headers or bodies sent a byte at a time are cut by the configured timeouts, one address cannot hold more than maxConnectionsPerIp, and other clients are served meanwhile.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushPrefix, openRedisStore, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';
import { brokerProcess, killAllBrokerProcesses, writeSharedConfig, type BrokerProcess } from './broker-process.js';
import { keepAliveAgent, send } from './keep-alive-client.js';
import { signIn } from './token-load.js';

const prefix = testPrefix('slow');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LIMITS = { headersTimeoutMs: 2000, requestTimeoutMs: 4000, maxConnectionsPerIp: 100, maxHeaderBytes: 8192 };
/** How long a slow client would take to send everything (far longer than the timeouts). */
const TRICKLE_MS = 40_000;
let instance: BrokerProcess;

interface SlowResult {
  /** The broker closed the connection before the client was done sending. */
  cutByServer: boolean;
  /** The first line the broker answered, if any (e.g. "HTTP/1.1 408 Request Timeout"). */
  answer: string;
  /** Time from connect to close. */
  ms: number;
}

/** A client that sends `head` and then `tail` one byte every `pauseMs`, from `localAddress`. */
function slowClient(port: number, localAddress: string, head: string, tail: string, pauseMs: number): Promise<SlowResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    let received = '';
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const socket: Socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ cutByServer: !done, answer: received.split('\r\n')[0] ?? '', ms: performance.now() - started });
    });
    socket.on('connect', () => {
      socket.write(head);
      let sent = 0;
      timer = setInterval(() => {
        if (sent >= tail.length) {
          done = true;
          clearInterval(timer);
          return;
        }
        socket.write(tail[sent]!);
        sent += 1;
      }, pauseMs);
    });
  });
}

afterAll(async () => {
  await killAllBrokerProcesses();
  const store = await openRedisStore({ prefix });
  await flushPrefix(store);
  await store.close();
});

describe('slow clients', () => {
  const headers: Promise<SlowResult>[] = [];
  const bodies: Promise<SlowResult>[] = [];
  let normal: { ok: number; failed: string[] };

  beforeAll(async () => {
    const port = await freeLoopbackPort();
    const file = await writeSharedConfig({ issuer: `http://127.0.0.1:${port}`, redisUrl: REDIS_URL, prefix, extra: { server: LIMITS } });
    instance = brokerProcess(file, port);
    await instance.start();

    const pause = 200;
    const bytes = TRICKLE_MS / pause;
    // 150 connections from 127.0.0.2 send their headers a byte at a time (the cap is 100 per address).
    for (let i = 0; i < 150; i += 1) headers.push(slowClient(port, '127.0.0.2', 'GET /.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1\r\n', `X-Slow: ${'a'.repeat(bytes)}\r\n\r\n`, pause));
    // 50 connections from 127.0.0.3 send a complete header block, then a token request body a byte at a time.
    const body = `grant_type=refresh_token&refresh_token=${'b'.repeat(bytes)}`;
    for (let i = 0; i < 50; i += 1) {
      bodies.push(slowClient(port, '127.0.0.3', `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`, body, pause));
    }
    await sleep(500);

    // Meanwhile, other clients sign in and call the API.
    normal = { ok: 0, failed: [] };
    const agent = keepAliveAgent();
    for (let i = 0; i < 3; i += 1) {
      const held = await signIn(`http://127.0.0.1:${port}`).catch((error: Error) => void normal.failed.push(`sign-in: ${error.message}`));
      if (held) normal.ok += 1;
      const discovery = await send(agent, `${instance.url}/.well-known/openid-configuration`);
      if (discovery.status === 200) normal.ok += 1;
      else normal.failed.push(`discovery ${discovery.status}`);
    }
  }, 120_000);

  it('serves other clients while 200 slow connections are open', () => {
    expect(normal.failed).toEqual([]);
    expect(normal.ok).toBe(6);
  });

  it('cuts every slow-header connection: 408 after headersTimeoutMs, or closed at once beyond the per-address cap', async () => {
    const results = await Promise.all(headers);
    expect(results.every((result) => result.cutByServer)).toBe(true);
    const timedOut = results.filter((result) => result.answer.startsWith('HTTP/1.1 408'));
    const refused = results.filter((result) => result.answer === '');
    expect(timedOut.length + refused.length).toBe(150);
    expect(timedOut.length).toBeLessThanOrEqual(LIMITS.maxConnectionsPerIp);
    expect(refused.length).toBeGreaterThanOrEqual(150 - LIMITS.maxConnectionsPerIp);
    console.info(`slow headers: ${timedOut.length} answered 408, slowest cut after ${Math.round(Math.max(...timedOut.map((r) => r.ms)))} ms (headersTimeoutMs ${LIMITS.headersTimeoutMs}); ${refused.length} closed at once (cap ${LIMITS.maxConnectionsPerIp} per address); a client needed ${TRICKLE_MS} ms`);
  }, 60_000);

  it('cuts every slow-body connection with 408 after requestTimeoutMs', async () => {
    const results = await Promise.all(bodies);
    expect(results.every((result) => result.cutByServer)).toBe(true);
    expect(results.every((result) => result.answer.startsWith('HTTP/1.1 408'))).toBe(true);
    console.info(`slow bodies: 50 answered 408, slowest cut after ${Math.round(Math.max(...results.map((r) => r.ms)))} ms (requestTimeoutMs ${LIMITS.requestTimeoutMs})`);
  }, 60_000);

  it('answers 431 to a header block larger than maxHeaderBytes', async () => {
    const answer = await send(keepAliveAgent(), `${instance.url}/healthz`, { headers: { 'x-big': 'c'.repeat(LIMITS.maxHeaderBytes + 1) } });
    expect(answer.status).toBe(431);
  });
});
