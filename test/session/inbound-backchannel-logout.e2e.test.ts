// Inbound OIDC Back-Channel Logout from a real upstream oidc-provider: valid tokens end the named sessions at once; forged, replayed, expired and malformed ones get 400 and are audited.
import { importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type WriteOp } from '../../src/store/store.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { offlineUpstreamSignIn } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

const EVENT = { 'http://schemas.openid.net/event/backchannel-logout': {} };

/** The shared store, with a switch that fails the next write ending a session (terminate's batch). */
const store = new MemoryStore();
let failNextEnd = false;
const originalBatch = store.batch.bind(store);
store.batch = async (ops: readonly WriteOp[]) => {
  if (failNextEnd && ops[0]?.op === 'delete' && ops[0].key.startsWith('fsession:')) {
    failNextEnd = false;
    throw new StoreUnavailableError();
  }
  return originalBatch(ops);
};

let upstream: TestUpstream;
let broker: TestBroker;
let nextSid = 'upstream-sid-0';

beforeAll(async () => {
  const port = await freeLoopbackPort();
  upstream = await startTestUpstream({ brokerIssuer: `http://127.0.0.1:${port}`, connectorId: 'acme' });
  // The upstream's ID tokens carry the upstream session id (`sid`) the logout tokens name.
  upstream.tamperIdTokens((claims) => upstream.signIdToken({ ...claims, sid: nextSid }));
  broker = await startBroker({ port, store, providers: [{ id: 'acme', type: 'oidc', name: 'ACME', config: upstream.connectorConfig() }] });
});

afterAll(async () => {
  await broker?.close();
  await upstream?.close();
  await store.close();
});

async function signIn(sid: string) {
  nextSid = sid;
  const { config, tokens } = await offlineUpstreamSignIn(broker.issuer);
  const sub = tokens.claims()!.sub;
  const [sessionId] = (await broker.app.broker.sessions.sessionsOf(sub)).slice(-1);
  return { config, tokens, sub, sessionId: sessionId! };
}

let jtiCounter = 0;
/** A logout token as the upstream would sign it, with overrides (undefined removes a claim). */
async function logoutToken(overrides: Record<string, unknown> = {}, header: { typ?: string; key?: 'upstream' | 'other' } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iss: upstream.issuer, aud: upstream.clientId, iat: now, exp: now + 120, jti: `jti-${Date.now()}-${(jtiCounter += 1)}`, sub: 'sub-alice', events: EVENT, ...overrides };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  const jwk = upstream.jwks[0] as JWK;
  const key = header.key === 'other' ? (await import('jose')).generateKeyPair('RS256').then((pair) => pair.privateKey) : importJWK(jwk, 'RS256');
  return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'RS256', kid: jwk.kid as string, typ: header.typ ?? 'logout+jwt' }).sign(await key);
}

async function post(body: string, options: { connector?: string; contentType?: string } = {}) {
  const response = await fetch(`${broker.issuer}/backchannel-logout/${options.connector ?? 'acme'}`, {
    method: 'POST',
    headers: { 'content-type': options.contentType ?? 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: response.status, cacheControl: response.headers.get('cache-control'), body: await response.text() };
}

const send = (token: string) => post(new URLSearchParams({ logout_token: token }).toString());
const live = async (sub: string, sessionId: string) => (await broker.app.broker.sessions.sessionsOf(sub)).includes(sessionId);
const refusals = (from: number) => broker.audit.slice(from).filter((e) => e.event === 'upstream.backchannel_logout' && e.outcome === 'failure');

describe('inbound back-channel logout', () => {
  it('a valid token naming sub and sid ends exactly that upstream session, at once; its tokens die', async () => {
    const one = await signIn('sid-one');
    const two = await signIn('sid-two');
    const answer = await send(await logoutToken({ sid: 'sid-one' }));
    expect(answer).toMatchObject({ status: 200, cacheControl: 'no-store' });
    expect(await live(one.sub, one.sessionId)).toBe(false);
    expect(await live(two.sub, two.sessionId)).toBe(true);
    await expect(oidc.refreshTokenGrant(one.config, one.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'upstream_logout', accountId: one.sub }));
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'upstream.backchannel_logout', outcome: 'success', details: { sessionsEnded: 1 } }));
  });

  it('a token naming only the sid ends that session; one naming only the sub ends all of the subject\'s sessions', async () => {
    const one = await signIn('sid-three');
    const two = await signIn('sid-four');
    expect((await send(await logoutToken({ sub: undefined, sid: 'sid-three' }))).status).toBe(200);
    expect(await live(one.sub, one.sessionId)).toBe(false);
    expect(await live(two.sub, two.sessionId)).toBe(true);
    expect((await send(await logoutToken())).status).toBe(200);
    expect(await live(two.sub, two.sessionId)).toBe(false);
  });

  it('a replayed token (same jti) gets 400 and is audited', async () => {
    const session = await signIn('sid-replay');
    const token = await logoutToken({ sid: 'sid-replay' });
    expect((await send(token)).status).toBe(200);
    const from = broker.audit.length;
    const again = await send(token);
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body)).toEqual({ error: 'invalid_request', error_description: 'the logout token is not valid' });
    expect(refusals(from)).toEqual([expect.objectContaining({ reason: 'invalid_logout_token', details: { detail: expect.stringContaining('replayed') } })]);
    expect(await live(session.sub, session.sessionId)).toBe(false);
  });

  it.each([
    ['signed by another key', () => logoutToken({}, { key: 'other' }), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
    ['expired (exp passed)', () => logoutToken({ iat: Math.floor(Date.now() / 1000) - 300, exp: Math.floor(Date.now() / 1000) - 120 }), 'ERR_JWT_EXPIRED'],
    ['issued too long ago (iat 20 minutes old)', () => logoutToken({ iat: Math.floor(Date.now() / 1000) - 1200, exp: undefined }), 'ERR_JWT_EXPIRED'],
    ['issued in the future', () => logoutToken({ iat: Math.floor(Date.now() / 1000) + 3600 }), 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ['for another audience', () => logoutToken({ aud: 'someone-else' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ['from another issuer', () => logoutToken({ iss: 'https://evil.example' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ['with a nonce', () => logoutToken({ nonce: 'n-1' }), 'nonce'],
    ['without events', () => logoutToken({ events: undefined }), 'events'],
    ['with events lacking the back-channel member', () => logoutToken({ events: { 'http://example.com/other': {} } }), 'back-channel'],
    ['without a jti', () => logoutToken({ jti: undefined }), 'jti'],
    ['naming neither sub nor sid', () => logoutToken({ sub: undefined }), 'neither sub nor sid'],
    ['an ID token (typ JWT)', () => logoutToken({}, { typ: 'JWT' }), 'typ'],
    ['unsigned (alg none)', async () => upstream.unsignedIdToken({ iss: upstream.issuer, aud: upstream.clientId, iat: Math.floor(Date.now() / 1000), jti: 'none-1', sub: 'sub-alice', events: EVENT }), 'ERR_'],
    ['not a JWT at all', async () => 'not.a.jwt', 'ERR_'],
  ])('a token %s gets 400, is audited, and ends nothing', async (_name, make, detail) => {
    const session = await signIn(`sid-${jtiCounter}`);
    const from = broker.audit.length;
    const answer = await send(await make());
    expect(answer.status).toBe(400);
    expect(refusals(from)).toEqual([expect.objectContaining({ reason: 'invalid_logout_token', connectorId: 'acme', details: { detail: expect.stringContaining(detail) } })]);
    expect(await live(session.sub, session.sessionId)).toBe(true);
  });

  it('a store failure while ending the sessions answers 503, and the upstream\'s retry of the same token is not taken for a replay', async () => {
    const session = await signIn('sid-store-failure');
    const token = await logoutToken({ sid: 'sid-store-failure' });
    failNextEnd = true;
    expect((await send(token)).status).toBe(503);
    expect(await live(session.sub, session.sessionId)).toBe(true);
    expect((await send(token)).status).toBe(200);
    expect(await live(session.sub, session.sessionId)).toBe(false);
  });

  it('refuses malformed requests, each audited once: no token, a token over 16 KiB, a body over the limit, JSON, an unknown connector', async () => {
    const from = broker.audit.length;
    expect((await post('')).status).toBe(400);
    expect((await send('x'.repeat(16 * 1024 + 100))).status).toBe(400);
    expect((await post(`logout_token=${'x'.repeat(64 * 1024)}`)).status).toBe(413);
    expect((await post(JSON.stringify({ logout_token: await logoutToken() }), { contentType: 'application/json' })).status).toBe(415);
    expect((await post(new URLSearchParams({ logout_token: await logoutToken() }).toString(), { connector: 'nope' })).status).toBe(404);
    expect(refusals(from).map((e) => [e.reason, e.connectorId, e.ip])).toEqual([
      ['invalid_request', 'acme', '127.0.0.1'],
      ['invalid_request', 'acme', '127.0.0.1'],
      ['payload_too_large', 'acme', '127.0.0.1'],
      ['missing_fields', 'acme', '127.0.0.1'],
      ['not_found', 'nope', '127.0.0.1'],
    ]);
    for (const event of refusals(from)) expect(event.requestId).toEqual(expect.any(String));
  });
});
