// Back-Channel Logout 1.0 when a session ends: a real HTTP receiver validates the logout token with jose (signature, iss, aud, iat, jti, events, sub, sid, no nonce); retries, failures and end_session.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { BackchannelLogout, providerFetch } from '../../src/issuer/backchannel-logout.js';
import { PUBLIC_CLIENT, startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { offlineUpstreamSignIn } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

const INTERVAL = 15 * 60_000;
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** A relying party's back-channel logout endpoint: records each logout token; answers 503 to the first `failFirst` requests. */
async function startReceiver() {
  const received: { contentType: string | undefined; token: string }[] = [];
  const state = { failFirst: 0, requests: 0 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      state.requests += 1;
      if (state.requests <= state.failFirst) {
        res.statusCode = 503;
        res.end();
        return;
      }
      received.push({ contentType: req.headers['content-type'], token: new URLSearchParams(body).get('logout_token') ?? '' });
      res.statusCode = 200;
      res.setHeader('cache-control', 'no-store');
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel-logout`;
  return {
    url,
    received,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let upstream: TestUpstream;
let broker: TestBroker;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let offset = 0;
const now = () => Date.now() + offset;

beforeAll(async () => {
  const port = await freeLoopbackPort();
  receiver = await startReceiver();
  upstream = await startTestUpstream({ brokerIssuer: `http://127.0.0.1:${port}`, connectorId: 'acme' });
  broker = await startBroker({
    port,
    now,
    providers: [{ id: 'acme', type: 'oidc', name: 'ACME', config: upstream.connectorConfig() }],
    config: {
      clients: [
        { clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], postLogoutRedirectUris: [TEST_CLIENT.postLogoutRedirectUri], name: 'Test RP', backchannelLogoutUri: receiver.url },
        { clientId: PUBLIC_CLIENT.clientId, public: true, redirectUris: [PUBLIC_CLIENT.redirectUri], skipConsent: true },
      ],
    },
  });
});

afterAll(async () => {
  await broker?.close();
  await upstream?.close();
  await receiver?.close();
});

async function federatedLogin() {
  const { config, tokens, browser } = await offlineUpstreamSignIn(broker.issuer);
  const claims = tokens.claims()!;
  const [sessionId] = (await broker.app.broker.sessions.sessionsOf(claims.sub, now())).slice(-1);
  return { config, tokens, browser, sub: claims.sub, sid: claims.sid as string, sessionId: sessionId! };
}

/** Validates a logout token as an RP must (Back-Channel Logout 1.0 §2.6). */
async function validLogoutToken(token: string): Promise<JWTPayload> {
  const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(`${broker.issuer}/jwks`)), {
    issuer: broker.issuer,
    audience: TEST_CLIENT.clientId,
    typ: 'logout+jwt',
    requiredClaims: ['iat', 'jti', 'events'],
  });
  expect(protectedHeader.alg).toBe('ES256');
  expect(payload.events).toEqual({ [BACKCHANNEL_EVENT]: {} });
  expect(payload).not.toHaveProperty('nonce');
  return payload;
}


describe('back-channel logout when a session ends', () => {
  it('revoked upstream: the sweep ends the session and the client receives a valid logout token naming its sub and sid', async () => {
    const { config, tokens, sub, sid, sessionId } = await federatedLogin();
    expect(sid).toEqual(expect.any(String));
    const from = receiver.received.length;
    await upstream.revokeRefreshToken((await broker.app.broker.vault.get(sessionId))!.tokens.refreshToken!);
    offset += INTERVAL;
    await broker.app.scheduler.sweepOnce();
    await broker.app.backchannel.idle();
    const delivered = receiver.received.slice(from);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.contentType).toBe('application/x-www-form-urlencoded');
    const payload = await validLogoutToken(delivered[0]!.token);
    expect(payload).toMatchObject({ sub, sid });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'backchannel.logout', outcome: 'success', accountId: sub, clientId: TEST_CLIENT.clientId }));
  });

  it('a receiver that fails first gets the token on a retry; each token has its own jti', async () => {
    const first = await federatedLogin();
    const from = receiver.received.length;
    receiver.state.requests = 0;
    receiver.state.failFirst = 1;
    const session = (await broker.app.broker.sessions.get(first.sub, first.sessionId))!;
    await broker.app.broker.terminate(session, 'upstream_revoked');
    await broker.app.backchannel.idle();
    receiver.state.failFirst = 0;
    expect(receiver.state.requests).toBe(2);
    const delivered = receiver.received.slice(from);
    expect(delivered).toHaveLength(1);
    expect(await validLogoutToken(delivered[0]!.token)).toMatchObject({ sub: first.sub, sid: first.sid });
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'backchannel.logout', outcome: 'success', details: { attempts: 2 } }));
    const jtis = await Promise.all(receiver.received.map(async ({ token }) => (await validLogoutToken(token)).jti));
    expect(new Set(jtis).size).toBe(jtis.length);
  });

  it('a receiver that keeps failing: the delivery gives up after its retries and the failure is audited', async () => {
    const { sub, sessionId } = await federatedLogin();
    const grantIds = await broker.app.broker.sessions.get(sub, sessionId).then(() => grantsOf(sub, sessionId));
    const audit: { event: string; outcome: string; reason?: string; details?: Record<string, unknown> }[] = [];
    const quick = new BackchannelLogout({
      provider: broker.app.app,
      store: broker.store,
      auditor: { record: (input) => void audit.push(input) },
      logger: pino({ level: 'silent' }),
      clients: new Set([TEST_CLIENT.clientId]),
      ttlMs: 60_000,
      retryDelaysMs: [5, 5],
    });
    receiver.state.requests = 0;
    receiver.state.failFirst = 100;
    try {
      await quick.notify((await broker.app.broker.sessions.get(sub, sessionId))!, grantIds, 'upstream_revoked');
      await quick.idle();
    } finally {
      receiver.state.failFirst = 0;
    }
    expect(receiver.state.requests).toBe(3);
    expect(audit.filter((e) => e.event === 'backchannel.logout')).toEqual([
      expect.objectContaining({ outcome: 'failure', reason: 'delivery_failed', details: expect.objectContaining({ attempts: 3, detail: expect.stringContaining('503') }) }),
    ]);
  });

  it('logout at the broker: the client gets exactly one logout token (oidc-provider sends it; terminate does not repeat it)', async () => {
    const { config, tokens, browser, sub, sid } = await federatedLogin();
    const from = receiver.received.length;
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: TEST_CLIENT.postLogoutRedirectUri });
    const confirm = await browser.follow(url.href);
    await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' }, TEST_CLIENT.postLogoutRedirectUri);
    await broker.app.backchannel.idle();
    const delivered = receiver.received.slice(from);
    expect(delivered).toHaveLength(1);
    expect(await validLogoutToken(delivered[0]!.token)).toMatchObject({ sub, sid });
  });
});

describe('configuration and the outgoing fetch', () => {
  it('refuses a back-channel logout URI that is not an absolute http(s) URL without a fragment', async () => {
    for (const bad of ['ftp://rp.example/logout', 'https://rp.example/logout#frag', '/relative']) {
      const client = { clientId: 'rp', clientSecret: 'x'.repeat(32), redirectUris: ['https://rp.example/cb'], backchannelLogoutUri: bad };
      await expect(loadConfig({ env: {}, cwd: process.cwd(), file: { providersDir: 'test/fixtures/no-providers', clients: [client] } })).rejects.toThrow(/clients\.0\.backchannelLogoutUri|backchannelLogoutUri/);
    }
  });

  it('keeps oidc-provider\'s private-address guard for every URL but the configured back-channel logout URIs', async () => {
    const fetchFor = providerFetch([receiver.url]);
    // A dispatcher fetch cannot use: the request fails while it is kept, succeeds once it is dropped.
    const guard = { dispatcher: {} };
    const trusted = await fetchFor(receiver.url, { method: 'POST', body: 'logout_token=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, ...guard });
    expect(trusted.status).toBe(200);
    await expect(fetchFor(`${receiver.url}?other`, { method: 'POST', body: 'logout_token=x', ...guard })).rejects.toThrow();
    await expect(fetchFor(`${broker.issuer}/jwks`, { ...guard })).rejects.toThrow();
  });
});

/** The grants the session issued (the broker's grant bindings). */
async function grantsOf(accountId: string, sessionId: string): Promise<string[]> {
  return Object.keys(await broker.store.mapGetAll(`session-grants:{${accountId}}:${sessionId}`));
}
