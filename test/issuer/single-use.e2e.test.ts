// Codes and refresh tokens are single use under real parallel requests (RFC 6749 4.1.2, 10.4), and a rotation interrupted by the store, even after its claim landed, neither loses the user nor hands tokens out twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import type { RedisStore } from '../../src/store/redis.js';
import type { KeyValueStore, WriteOp } from '../../src/store/store.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore, startRedisServer, type RedisServer } from '../helpers/redis.js';
import { outage, withFaults } from '../helpers/store-faults.js';
import { loginAndExchange } from '../helpers/rp.js';
import { expectGrantRevoked, freshCode, OFFLINE, refreshParams, tokenRequest, userinfoStatus } from '../helpers/token-endpoint.js';

const PARALLEL = 8;

/** Which store call a fault waits for: the claim of a code or refresh token, or the batch that saves a new token. */
function at(point: 'claim' | 'AccessToken save' | 'RefreshToken save') {
  return (method: string, args: unknown[]) => {
    if (point === 'claim') return method === 'claim';
    const model = point === 'AccessToken save' ? 'AccessToken:' : 'RefreshToken:';
    return method === 'batch' && (args[0] as WriteOp[]).some((op) => op.op === 'set' && op.key.includes(model));
  };
}

const backends: { name: string; open(): Promise<{ store: KeyValueStore; dispose(): Promise<void>; config: Record<string, unknown> }> }[] = [
  {
    name: 'memory',
    open: async () => {
      const store = new MemoryStore({ sweepMs: 0 });
      return { store, dispose: () => store.close(), config: {} };
    },
  },
  {
    name: 'redis',
    open: async () => {
      const store = await openRedisStore();
      return { store, dispose: () => disposeRedisStore(store), config: { store: { type: 'redis' } } };
    },
  },
];

describe.each(backends)('single use at the token endpoint on $name', (backend) => {
  let broker: TestBroker;
  let faults: ReturnType<typeof withFaults>;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    const opened = await backend.open();
    dispose = opened.dispose;
    faults = withFaults(opened.store);
    broker = await startBroker({ store: faults.store, config: opened.config });
  });
  afterAll(async () => {
    await broker?.close();
    await dispose?.();
  });

  it(`one code redeemed ${PARALLEL} times at once: exactly one 200, the others invalid_grant, and the winner's tokens are revoked`, async () => {
    const { params } = await freshCode(broker);
    const answers = await Promise.all(Array.from({ length: PARALLEL }, () => tokenRequest(broker, params)));
    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    for (const loser of answers.filter((a) => a.status !== 200)) {
      expect(loser.status).toBe(400);
      expect(loser.body).toMatchObject({ error: 'invalid_grant' });
      expect(loser.headers.get('cache-control')).toBe('no-store');
      expect(loser.headers.get('content-type')).toMatch(/^application\/json/);
    }
    const won = winners[0]!.body as { access_token: string; refresh_token: string };
    expect(won.refresh_token).toBeTruthy();
    await expectGrantRevoked(broker, won);
  });

  it(`one refresh token used ${PARALLEL} times at once: one success at most, the others invalid_grant, and the grant is revoked`, async () => {
    const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
    expect(await userinfoStatus(broker, tokens.access_token)).toBe(200);
    const answers = await Promise.all(Array.from({ length: PARALLEL }, () => tokenRequest(broker, refreshParams(tokens.refresh_token!))));
    const winners = answers.filter((a) => a.status === 200);
    expect(winners.length).toBeLessThanOrEqual(1);
    for (const loser of answers.filter((a) => a.status !== 200)) {
      expect(loser.status).toBe(400);
      expect(loser.body).toMatchObject({ error: 'invalid_grant' });
    }
    for (const winner of winners) await expectGrantRevoked(broker, winner.body as { access_token: string; refresh_token: string });
    await expectGrantRevoked(broker, { access_token: tokens.access_token, refresh_token: tokens.refresh_token! });
    expect(broker.audit.some((e) => e.event === 'token.refreshed' && e.outcome === 'failure' && e.reason === 'invalid_grant')).toBe(true);
  });

  it('a sequential replay of a code or a refresh token is refused and revokes the grant', async () => {
    const { params } = await freshCode(broker);
    const first = await tokenRequest(broker, params);
    expect(first.status).toBe(200);
    const replay = await tokenRequest(broker, params);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    await expectGrantRevoked(broker, first.body as { access_token: string; refresh_token: string });

    const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
    const rotated = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh_token).not.toBe(tokens.refresh_token);
    const again = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    await expectGrantRevoked(broker, rotated.body as { access_token: string; refresh_token: string });
  });

  describe.each(['RefreshToken save', 'AccessToken save'] as const)('the store fails at the %s of a rotation', (point) => {
    it('answers 503; the retry with the same refresh token succeeds and the user stays signed in', async () => {
      const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
      faults.arm(at(point), outage);
      const failed = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
      expect(faults.fired).toBe(true);
      expect(failed.status).toBe(503);
      expect(failed.body).toMatchObject({ error: 'temporarily_unavailable' });
      expect(failed.body.access_token).toBeUndefined();
      expect(Number(failed.headers.get('retry-after'))).toBeGreaterThan(0);

      const retry = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
      expect(retry.status).toBe(200);
      expect(await userinfoStatus(broker, retry.body.access_token!)).toBe(200);
      const next = await tokenRequest(broker, refreshParams(retry.body.refresh_token!));
      expect(next.status).toBe(200);
      // Still single use after the retry: the refresh token that was retried is spent now.
      const replay = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
      expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    });
  });

  describe.each([
    { what: 'before the claim lands', after: false },
    { what: 'after the claim landed (its answer lost)', after: true },
  ])('the store fails $what', ({ after }) => {
    it('the request reads back whose claim is there once the store answers: 200, the user stays signed in, the old refresh token is spent', async () => {
      const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
      faults.arm(at('claim'), outage, { after });
      const rotated = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
      expect(faults.fired).toBe(true);
      expect(rotated.status).toBe(200);
      expect(rotated.body.refresh_token).not.toBe(tokens.refresh_token);
      expect(await userinfoStatus(broker, rotated.body.access_token!)).toBe(200);
      const next = await tokenRequest(broker, refreshParams(rotated.body.refresh_token!));
      expect(next.status).toBe(200);
      const replay = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
      expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      await expectGrantRevoked(broker, next.body as { access_token: string; refresh_token: string });
    });

    it('a code exchange settles the same way, and the code stays single use', async () => {
      const { params } = await freshCode(broker);
      faults.arm(at('claim'), outage, { after });
      const exchanged = await tokenRequest(broker, params);
      expect(exchanged.status).toBe(200);
      expect(await userinfoStatus(broker, exchanged.body.access_token!)).toBe(200);
      const replay = await tokenRequest(broker, params);
      expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      await expectGrantRevoked(broker, exchanged.body as { access_token: string; refresh_token: string });
    });
  });

  it("two requests with one refresh token while the first one's claim answer is lost: one 200 at most, and the grant ends", async () => {
    const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
    faults.arm(at('claim'), outage, { after: true });
    const answers = await Promise.all([0, 1].map(() => tokenRequest(broker, refreshParams(tokens.refresh_token!))));
    expect(answers.filter((a) => a.status === 200).length).toBeLessThanOrEqual(1);
    for (const loser of answers.filter((a) => a.status !== 200)) expect(loser.body).toMatchObject({ error: 'invalid_grant' });
    for (const winner of answers.filter((a) => a.status === 200)) await expectGrantRevoked(broker, winner.body as { access_token: string; refresh_token: string });
  });
});

describe('a claim whose answer is lost while the store stays silent longer than lostClaimWaitMs', () => {
  let broker: TestBroker;
  let faults: ReturnType<typeof withFaults>;
  let store: RedisStore;

  beforeAll(async () => {
    store = await openRedisStore();
    faults = withFaults(store);
    broker = await startBroker({ store: faults.store, config: { store: { type: 'redis', lostClaimWaitMs: 300 } } });
  });
  afterAll(async () => {
    await broker?.close();
    await disposeRedisStore(store);
  });

  it('never hands the tokens out: 503; the claim did land, so a retry afterwards counts as reuse and ends the grant', async () => {
    const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
    faults.arm(at('claim'), async () => faults.silence(1000), { after: true });
    const failed = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(faults.fired).toBe(true);
    expect(failed.status).toBe(503);
    expect(failed.body.access_token).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const retry = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(retry).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await userinfoStatus(broker, tokens.access_token)).toBe(401);
  });

  it('a claim that never landed stays unspent: 503, then the retry succeeds', async () => {
    const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
    faults.arm(at('claim'), async () => {
      faults.silence(1000);
      await outage();
    });
    const failed = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(faults.fired).toBe(true);
    expect(failed.status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const retry = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(retry.status).toBe(200);
    expect(await userinfoStatus(broker, retry.body.access_token!)).toBe(200);
  });
});

describe('Redis killed in the middle of a refresh-token rotation (AOF on)', () => {
  let redis: RedisServer;
  let store: RedisStore;
  let faults: ReturnType<typeof withFaults>;
  let broker: TestBroker;

  beforeAll(async () => {
    redis = await startRedisServer({ aof: true });
    store = await openRedisStore({ connection: { url: redis.url, commandTimeoutMs: 1000 } });
    faults = withFaults(store);
    broker = await startBroker({ store: faults.store, config: { store: { type: 'redis' } } });
  });
  afterAll(async () => {
    await broker?.close();
    await store?.close();
    await redis?.destroy();
  });

  async function restart() {
    await redis.start();
    await store.ready(10_000);
  }

  it('killed right before the AccessToken save: 503, then the retry after the restart succeeds', async () => {
    const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
    faults.arm(at('AccessToken save'), () => redis.kill());
    const failed = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(faults.fired).toBe(true);
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ error: 'temporarily_unavailable' });
    await restart();

    const retry = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(retry.status).toBe(200);
    expect(await userinfoStatus(broker, retry.body.access_token!)).toBe(200);
    const next = await tokenRequest(broker, refreshParams(retry.body.refresh_token!));
    expect(next.status).toBe(200);
  });

  it.each([
    { what: 'before the claim', after: false },
    { what: 'after the claim landed in the AOF, before its answer', after: true },
  ])('killed $what and back a second later: the waiting request reads back its claim and answers 200', async ({ after }) => {
    const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
    let restarted: Promise<void> | undefined;
    faults.arm(at('claim'),
      async () => {
        await redis.kill();
        restarted = new Promise((resolve) => setTimeout(resolve, 1000)).then(restart);
      },
      { after },
    );
    const rotated = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(faults.fired).toBe(true);
    await restarted;
    expect(rotated.status).toBe(200);
    expect(await userinfoStatus(broker, rotated.body.access_token!)).toBe(200);
    const next = await tokenRequest(broker, refreshParams(rotated.body.refresh_token!));
    expect(next.status).toBe(200);
    const replay = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});
