// Acceptance of continuous verification over real HTTP with a real upstream oidc-provider and a fake clock: revoked, healthy and unreachable upstreams, and two instances on one Redis.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderFile } from '../../src/config/schema.js';
import { createTokenVault } from '../../src/session/vault.js';
import { RedisStore } from '../../src/store/redis.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore, REDIS_URL } from '../helpers/redis.js';
import { offlineUpstreamSignIn } from '../helpers/rp.js';
import { freeLoopbackPort, startCountingUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

const MINUTE = 60_000;
const INTERVAL = 15 * MINUTE;
const GRACE = 20 * MINUTE;
const SESSION = { reverifyIntervalSeconds: INTERVAL / 1000, reverifyGraceSeconds: GRACE / 1000, reverifyRetrySeconds: 60 };

const acme = (upstream: TestUpstream): ProviderFile => ({ id: 'acme', type: 'oidc', name: 'ACME', config: upstream.connectorConfig() });

async function federatedLogin(broker: TestBroker) {
  const { config, tokens } = await offlineUpstreamSignIn(broker.issuer);
  const sub = tokens.claims()!.sub;
  const [sessionId] = (await broker.app.broker.sessions.sessionsOf(sub)).slice(-1);
  return { config, tokens, sub, sessionId: sessionId! };
}


describe('one broker, a fake clock', () => {
  let upstream: TestUpstream;
  let state: { refreshes: number; down: boolean };
  let broker: TestBroker;
  let offset = 0;
  const now = () => Date.now() + offset;

  beforeAll(async () => {
    const port = await freeLoopbackPort();
    // Upstream access tokens live 10 minutes: at every 15-minute check less than 5 minutes remain.
    ({ upstream, state } = await startCountingUpstream(`http://127.0.0.1:${port}`, 600));
    // The outages here are about re-verification: the circuit breaker (its own tests) stays out of the way, or the
    // refreshes failed in one test would still fail fast in the next.
    broker = await startBroker({ port, now, providers: [acme(upstream)], config: { session: SESSION, upstreamCircuit: { failureThreshold: 1000, cooldownSeconds: 1 } } });
  });
  afterAll(async () => {
    await broker?.close();
    await upstream?.close();
  });
  afterEach(() => {
    state.down = false;
  });

  const sweep = () => broker.app.scheduler.sweepOnce();
  const live = async (sub: string, sessionId: string) => (await broker.app.broker.sessions.sessionsOf(sub, now())).includes(sessionId);

  it('revoked upstream: within one sweep after the interval the session has ended and its refresh token is refused', async () => {
    const { config, tokens, sub, sessionId } = await federatedLogin(broker);
    await upstream.revokeRefreshToken((await broker.app.broker.vault.get(sessionId))!.tokens.refreshToken!);
    offset += INTERVAL - MINUTE;
    await sweep();
    expect(await live(sub, sessionId)).toBe(true);
    offset += MINUTE;
    const report = await sweep();
    expect(report.outcomes.ended).toBeGreaterThanOrEqual(1);
    expect(await live(sub, sessionId)).toBe(false);
    expect(broker.audit.filter((e) => e.event === 'session.ended' && e.reason === 'upstream_revoked' && e.accountId === sub)).toHaveLength(1);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.fetchUserInfo(config, tokens.access_token, sub)).rejects.toBeTruthy();
  });

  it('healthy upstream: the session survives many sweeps and its upstream access token is refreshed at each', async () => {
    const { config, tokens, sub, sessionId } = await federatedLogin(broker);
    const seen = new Set([(await broker.app.broker.vault.get(sessionId))!.tokens.accessToken]);
    for (let round = 0; round < 6; round += 1) {
      const before = state.refreshes;
      offset += INTERVAL;
      await sweep();
      expect(state.refreshes).toBeGreaterThanOrEqual(before + 1);
      expect(await live(sub, sessionId)).toBe(true);
      const record = (await broker.app.broker.vault.get(sessionId))!;
      seen.add(record.tokens.accessToken);
      expect(record.tokens.expiresAt! - now()).toBeGreaterThan(5 * MINUTE);
    }
    expect(seen.size).toBe(7);
    expect(await broker.app.metrics.registry.getSingleMetricAsString('vestibule_reverify_sweep_checks_total')).toMatch(/outcome="verified"} ([6-9]|\d\d)/);
    const session = (await broker.app.broker.sessions.get(sub, sessionId))!;
    expect(session.lastVerifiedAt).toBe(session.nextCheckAt! - INTERVAL);
    // The client's own tokens still work after all those sweeps.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect((await oidc.fetchUserInfo(config, refreshed.access_token, sub)).sub).toBe(sub);
  });

  it('upstream down for less than the grace: the session is kept, retried with backoff, and verified once it is back', async () => {
    const { sub, sessionId } = await federatedLogin(broker);
    const auditFrom = broker.audit.length;
    state.down = true;
    offset += INTERVAL;
    const downAt = now();
    expect((await sweep()).outcomes.unreachable).toBeGreaterThanOrEqual(1);
    const kept = (await broker.app.broker.sessions.get(sub, sessionId))!;
    expect(kept).toMatchObject({ unreachableAttempts: 1 });
    expect(kept.unreachableSince).toBeGreaterThanOrEqual(downAt);
    expect(kept.nextCheckAt! - kept.unreachableSince!).toBeGreaterThanOrEqual(MINUTE);
    expect(kept.nextCheckAt! - kept.unreachableSince!).toBeLessThan(MINUTE + 1000);
    offset += MINUTE;
    const retryAt = now();
    await sweep();
    const retried = (await broker.app.broker.sessions.get(sub, sessionId))!;
    expect(retried).toMatchObject({ unreachableAttempts: 2, unreachableSince: kept.unreachableSince });
    expect(retried.nextCheckAt! - retryAt).toBeGreaterThanOrEqual(2 * MINUTE);
    offset += 2 * MINUTE;
    state.down = false;
    const upAt = now();
    await sweep();
    const back = (await broker.app.broker.sessions.get(sub, sessionId))!;
    expect(back.unreachableSince).toBeUndefined();
    expect(back.lastVerifiedAt).toBeGreaterThanOrEqual(upAt);
    expect(back.nextCheckAt).toBe(back.lastVerifiedAt + INTERVAL);
    // Audited at each failed check (the earlier tests' sessions of the same user are due too: same pattern).
    const failures = broker.audit.slice(auditFrom).filter((e) => e.event === 'session.reverified' && e.outcome === 'failure' && e.accountId === sub);
    expect([...new Set(failures.map((e) => e.details?.attempts))].sort()).toEqual([1, 2]);
    expect(failures[0]).toMatchObject({ reason: 'upstream_unavailable', connectorId: 'acme' });
    expect(broker.audit.slice(auditFrom).some((e) => e.event === 'session.ended')).toBe(false);
  });

  it('upstream down for longer than the grace: the session ends, audited upstream_unreachable', async () => {
    const { config, tokens, sub, sessionId } = await federatedLogin(broker);
    const auditFrom = broker.audit.length;
    state.down = true;
    offset += INTERVAL;
    const since = now();
    // Sweep every 5 minutes while it stays down: kept until the grace has run out, then ended.
    while (now() < since + GRACE) {
      await sweep();
      expect(await live(sub, sessionId)).toBe(true);
      offset += 5 * MINUTE;
    }
    await sweep();
    expect(await live(sub, sessionId)).toBe(false);
    // Every session of this (shared) test user whose upstream stayed down ended the same way.
    expect(broker.audit.slice(auditFrom).some((e) => e.event === 'session.ended' && e.accountId === sub && e.reason === 'upstream_unreachable')).toBe(true);
    expect(broker.audit.slice(auditFrom).filter((e) => e.event === 'session.ended' && e.reason !== 'upstream_unreachable')).toEqual([]);
    state.down = false;
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('upstream tokens no vault key opens (tampered, or a key retired too early): the session ends at its check, audited as an error', async () => {
    const { config, tokens, sub, sessionId } = await federatedLogin(broker);
    const auditFrom = broker.audit.length;
    // The entry is there, sealed under a key this broker does not hold.
    await createTokenVault({ store: broker.store, keys: [randomBytes(32)] }).save(sessionId, 'acme', { accessToken: 'a', refreshToken: 'r', expiresAt: now() + INTERVAL });
    const refreshesBefore = state.refreshes;
    offset += INTERVAL;
    await sweep();
    expect(await live(sub, sessionId)).toBe(false);
    expect(state.refreshes).toBe(refreshesBefore);
    const audit = broker.audit.slice(auditFrom);
    expect(audit).toContainEqual(expect.objectContaining({ event: 'upstream.token.refresh_failed', level: 'error', reason: 'upstream_tokens_unreadable' }));
    expect(audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'upstream_tokens_unreadable', accountId: sub }));
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('a refresh grant on an overdue session checks it first, and the sweep does not check it again', async () => {
    const { config, tokens, sub, sessionId } = await federatedLogin(broker);
    offset += INTERVAL;
    const before = state.refreshes;
    const at = now();
    await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(state.refreshes).toBe(before + 1);
    const report = await sweep();
    expect(state.refreshes).toBe(before + 1);
    expect(report.taken).toBe(0);
    const session = (await broker.app.broker.sessions.get(sub, sessionId))!;
    expect(session.lastVerifiedAt).toBeGreaterThanOrEqual(at);
    expect(session.nextCheckAt).toBe(session.lastVerifiedAt + INTERVAL);
  });
});

describe('two instances sweeping one Redis', () => {
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

  it('check each due session exactly once per interval (counted at the upstream)', async () => {
    const signedIn = [];
    for (let i = 0; i < 4; i += 1) signedIn.push(await federatedLogin(brokers[0]!));
    for (let round = 1; round <= 3; round += 1) {
      const before = state.refreshes;
      offset += INTERVAL;
      const reports = await Promise.all(brokers.map((broker) => broker.app.scheduler.sweepOnce()));
      expect(state.refreshes - before).toBe(4);
      expect(reports.reduce((sum, report) => sum + report.outcomes.verified, 0)).toBe(4);
      // A second sweep at the same moment finds nothing due on either instance.
      const again = await Promise.all(brokers.map((broker) => broker.app.scheduler.sweepOnce()));
      expect(again.map((report) => report.taken)).toEqual([0, 0]);
    }
    for (const { sub, sessionId } of signedIn) expect(await brokers[1]!.app.broker.sessions.sessionsOf(sub, now())).toContain(sessionId);
  });
});
