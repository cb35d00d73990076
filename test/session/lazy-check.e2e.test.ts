// The lazy check over real HTTP with a real upstream oidc-provider and a fake clock: a userinfo call on an overdue session checks it first, once across concurrent calls and instances.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderFile } from '../../src/config/schema.js';
import { RedisStore } from '../../src/store/redis.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore, REDIS_URL } from '../helpers/redis.js';
import { authorizationRequest, offlineUpstreamSignIn } from '../helpers/rp.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { freeLoopbackPort, startCountingUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

const MINUTE = 60_000;
const INTERVAL = 15 * MINUTE;
const SESSION = { reverifyIntervalSeconds: INTERVAL / 1000, reverifyGraceSeconds: 3600, reverifyRetrySeconds: 60 };

const acme = (upstream: TestUpstream): ProviderFile => ({ id: 'acme', type: 'oidc', name: 'ACME', config: upstream.connectorConfig() });

async function federatedLogin(broker: TestBroker) {
  const { config, tokens } = await offlineUpstreamSignIn(broker.issuer);
  const sub = tokens.claims()!.sub;
  const [sessionId] = (await broker.app.broker.sessions.sessionsOf(sub)).slice(-1);
  return { config, tokens, sub, sessionId: sessionId! };
}

async function federatedLoginWithBrowser(broker: TestBroker) {
  const { config, tokens, browser } = await offlineUpstreamSignIn(broker.issuer);
  const sub = tokens.claims()!.sub;
  const [sessionId] = (await broker.app.broker.sessions.sessionsOf(sub)).slice(-1);
  return { config, tokens, browser, sub, sessionId: sessionId! };
}

/** GET /me with the access token, on any instance: the status and, when 200, the subject. */
async function userinfo(broker: TestBroker, accessToken: string): Promise<{ status: number; sub?: string }> {
  const response = await fetch(`${broker.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  const body = response.status === 200 ? ((await response.json()) as { sub: string }) : undefined;
  return { status: response.status, sub: body?.sub };
}

describe('one broker', () => {
  let upstream: TestUpstream;
  let state: { refreshes: number; down: boolean };
  let broker: TestBroker;
  let offset = 0;
  const now = () => Date.now() + offset;

  beforeAll(async () => {
    const port = await freeLoopbackPort();
    ({ upstream, state } = await startCountingUpstream(`http://127.0.0.1:${port}`));
    // The memory store keeps time by the fake clock: access tokens outlive the test's clock jumps.
    broker = await startBroker({ port, now, providers: [acme(upstream)], config: { session: SESSION, tokens: { accessTokenTtl: 86400 } } });
  });
  afterAll(async () => {
    await broker?.close();
    await upstream?.close();
  });

  it('a userinfo call before the session is due asks nothing upstream', async () => {
    const { tokens, sub } = await federatedLogin(broker);
    const before = state.refreshes;
    expect(await userinfo(broker, tokens.access_token)).toEqual({ status: 200, sub });
    expect(state.refreshes).toBe(before);
  });

  it('a userinfo call on an overdue session whose upstream refresh token was revoked is refused, and the session ends', async () => {
    const { config, tokens, sub, sessionId } = await federatedLogin(broker);
    await upstream.revokeRefreshToken((await broker.app.broker.vault.get(sessionId))!.tokens.refreshToken!);
    offset += INTERVAL;
    const { status } = await userinfo(broker, tokens.access_token);
    expect(status).toBe(401);
    expect(await broker.app.broker.sessions.sessionsOf(sub, now())).not.toContain(sessionId);
    expect(broker.audit.filter((e) => e.event === 'session.ended' && e.reason === 'upstream_revoked' && e.accountId === sub)).toHaveLength(1);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('concurrent userinfo calls on an overdue session cause exactly one upstream refresh, and all succeed', async () => {
    const { tokens, sub, sessionId } = await federatedLogin(broker);
    offset += INTERVAL;
    const before = state.refreshes;
    const answers = await Promise.all(Array.from({ length: 6 }, () => userinfo(broker, tokens.access_token)));
    expect(answers).toEqual(Array.from({ length: 6 }, () => ({ status: 200, sub })));
    expect(state.refreshes).toBe(before + 1);
    const session = (await broker.app.broker.sessions.get(sub, sessionId))!;
    expect(session.nextCheckAt).toBe(session.lastVerifiedAt + INTERVAL);
    expect(session.lastVerifiedAt).toBeGreaterThan(now() - MINUTE);
    // Verified: the next call is answered without asking again, and the sweep finds nothing of it due.
    expect((await userinfo(broker, tokens.access_token)).status).toBe(200);
    expect(state.refreshes).toBe(before + 1);
  });

  it('an authorization (prompt=none) on an overdue session is checked first: revoked upstream -> login_required, the session ended once', async () => {
    const { config, tokens, sub, sessionId, browser } = await federatedLoginWithBrowser(broker);
    const silent = async () => new URL((await browser.follow((await authorizationRequest(config, TEST_CLIENT, { prompt: 'none', scope: 'openid email' })).url.href, {}, TEST_CLIENT.redirectUri)).url);
    offset += INTERVAL;
    // A healthy upstream: the overdue session is re-verified first and the silent authorization still gets a code.
    const first = await silent();
    expect(first.searchParams.get('error_description') ?? first.searchParams.get('error') ?? 'ok').toBe('ok');
    expect((await broker.app.broker.sessions.get(sub, sessionId))!.lastVerifiedAt).toBeGreaterThan(now() - MINUTE);
    await upstream.revokeRefreshToken((await broker.app.broker.vault.get(sessionId))!.tokens.refreshToken!);
    offset += INTERVAL;
    const ended = () => broker.audit.filter((e) => e.event === 'session.ended' && e.reason === 'upstream_revoked' && e.accountId === sub).length;
    const endedBefore = ended();
    expect((await silent()).searchParams.get('error')).toBe('login_required');
    expect(await broker.app.broker.sessions.sessionsOf(sub, now())).not.toContain(sessionId);
    expect(ended() - endedBefore).toBe(1);
    expect((await userinfo(broker, tokens.access_token)).status).toBe(401);
  });

  it('an upstream down at the lazy check keeps the session within the grace (audited), retried later', async () => {
    const { tokens, sub, sessionId } = await federatedLogin(broker);
    offset += INTERVAL;
    state.down = true;
    try {
      expect(await userinfo(broker, tokens.access_token)).toEqual({ status: 200, sub });
      const kept = (await broker.app.broker.sessions.get(sub, sessionId))!;
      expect(kept.unreachableAttempts).toBe(1);
      expect(kept.nextCheckAt).toBeGreaterThan(now());
      expect(broker.audit.some((e) => e.event === 'session.reverified' && e.outcome === 'failure' && e.accountId === sub)).toBe(true);
    } finally {
      state.down = false;
    }
  });
});

describe('two instances on one Redis', () => {
  let upstream: TestUpstream;
  let state: { refreshes: number; down: boolean };
  const brokers: TestBroker[] = [];
  const stores: RedisStore[] = [];
  let offset = 0;
  const now = () => Date.now() + offset;

  beforeAll(async () => {
    const port = await freeLoopbackPort();
    ({ upstream, state } = await startCountingUpstream(`http://127.0.0.1:${port}`));
    const first = await openRedisStore();
    const second = new RedisStore({ connection: { url: REDIS_URL }, prefix: first.prefix });
    await second.ready();
    stores.push(first, second);
    // Instances of one deployment share the vault key (each would otherwise generate its own and not read the other's entries).
    const vaultKeys = [randomBytes(32).toString('base64url')];
    brokers.push(await startBroker({ port, now, store: first, providers: [acme(upstream)], config: { session: SESSION, vaultKeys } }));
    brokers.push(await startBroker({ now, store: second, providers: [acme(upstream)], config: { session: SESSION, vaultKeys } }));
  });
  afterAll(async () => {
    for (const broker of brokers) await broker.close();
    await stores[1]?.close();
    if (stores[0]) await disposeRedisStore(stores[0]);
    await upstream?.close();
  });

  it('userinfo calls at the same moment on both instances cause one upstream refresh', async () => {
    const { tokens, sub } = await federatedLogin(brokers[0]!);
    for (let round = 1; round <= 3; round += 1) {
      offset += INTERVAL;
      const before = state.refreshes;
      const answers = await Promise.all(brokers.flatMap((broker) => [userinfo(broker, tokens.access_token), userinfo(broker, tokens.access_token)]));
      expect(answers.map((answer) => answer.sub)).toEqual([sub, sub, sub, sub]);
      expect(state.refreshes - before).toBe(1);
    }
  });

  it('a revoked upstream seen by one instance: both instances refuse, the session ended once', async () => {
    const { tokens, sub, sessionId } = await federatedLogin(brokers[0]!);
    await upstream.revokeRefreshToken((await brokers[0]!.app.broker.vault.get(sessionId))!.tokens.refreshToken!);
    offset += INTERVAL;
    const answers = await Promise.all(brokers.map((broker) => userinfo(broker, tokens.access_token)));
    expect(answers.map((answer) => answer.status)).toEqual([401, 401]);
    const endings = brokers.flatMap((broker) => broker.audit).filter((e) => e.event === 'session.ended' && e.accountId === sub);
    expect(endings).toHaveLength(1);
    expect(endings[0]).toMatchObject({ reason: 'upstream_revoked' });
  });
});
