// Downstream refresh goes back to the upstream: its tokens are refreshed near expiry, and a refused upstream refresh ends the session.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { offlineUpstreamSignIn } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

let up: TestUpstream;
let broker: TestBroker;
const upstreamRefreshes: string[] = [];

beforeAll(async () => {
  const port = await freeLoopbackPort();
  const brokerIssuer = `http://127.0.0.1:${port}`;
  // Upstream access tokens live 60 s: always inside the 5-minute refresh window.
  up = await startTestUpstream({
    brokerIssuer,
    connectorId: 'acme',
    ttl: { accessToken: 60 },
    configure: (provider) =>
      provider.use(async (ctx, next) => {
        if (ctx.path === '/token' && ctx.method === 'POST') upstreamRefreshes.push(ctx.path);
        await next();
      }),
  });
  broker = await startBroker({ port, providers: [{ id: 'acme', type: 'oidc', name: 'ACME', config: up.connectorConfig() }] });
});

afterAll(async () => {
  await broker?.close();
  await up?.close();
});

const federatedLogin = (target: TestBroker = broker) => offlineUpstreamSignIn(target.issuer);

describe('downstream refresh re-confirms the upstream session', () => {
  it('refreshes the upstream access token when it is near expiry', async () => {
    const { config, tokens } = await federatedLogin();
    const before = upstreamRefreshes.length;
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(upstreamRefreshes.length).toBe(before + 1);
    expect(broker.audit.some((e) => e.event === 'upstream.token.refreshed' && e.outcome === 'success')).toBe(true);
  });

  it('ends the session and refuses the downstream refresh when the upstream revoked its grant', async () => {
    const { config, tokens } = await federatedLogin();
    const sub = tokens.claims()!.sub;
    const live = await broker.app.broker.sessions.sessionsOf(sub);
    // The upstream revokes every grant it issued (an administrator disabled the user).
    const vaulted = await Promise.all(live.map((id) => broker.app.broker.vault.get(id)));
    for (const record of vaulted) if (record?.tokens.refreshToken) await up.revokeRefreshToken(record.tokens.refreshToken);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(broker.audit.some((e) => e.event === 'session.ended' && e.reason === 'upstream_revoked' && e.accountId === sub)).toBe(true);
    // Exactly the session that issued this refresh token ended; the earlier test's browser keeps its own session
    // until its own tokens are used (each token belongs to one session).
    const after = await broker.app.broker.sessions.sessionsOf(sub);
    expect(after.length).toBe(live.length - 1);
    // Its access token died with it (grant revoked): userinfo refuses it.
    await expect(oidc.fetchUserInfo(config, tokens.access_token, sub)).rejects.toBeTruthy();
  });
});

describe('re-verification every interval', () => {
  let slow: TestUpstream;
  let target: TestBroker;
  let offsetMs = 0;
  const calls: string[] = [];
  beforeAll(async () => {
    const port = await freeLoopbackPort();
    // Upstream access tokens live an hour: only the re-verification interval can cause an upstream refresh.
    slow = await startTestUpstream({
      brokerIssuer: `http://127.0.0.1:${port}`,
      connectorId: 'acme',
      ttl: { accessToken: 3600 },
      configure: (provider) =>
        provider.use(async (ctx, next) => {
          if (ctx.path === '/token' && ctx.method === 'POST') calls.push(ctx.path);
          await next();
        }),
    });
    target = await startBroker({ port, now: () => Date.now() + offsetMs, providers: [{ id: 'acme', type: 'oidc', name: 'ACME', config: slow.connectorConfig() }] });
  });
  afterAll(async () => {
    await target?.close();
    await slow?.close();
  });

  it('does not ask the upstream before the interval, and does after it (default 15 minutes)', async () => {
    const { config, tokens } = await federatedLogin(target);
    const afterLogin = calls.length;
    const early = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(calls.length).toBe(afterLogin);
    offsetMs = 16 * 60_000;
    await oidc.refreshTokenGrant(config, early.refresh_token!);
    expect(calls.length).toBe(afterLogin + 1);
    expect(target.audit.some((e) => e.event === 'upstream.token.refreshed')).toBe(true);
  });
});

