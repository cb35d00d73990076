// Risk re-evaluated at re-verification over real HTTP: failed sign-ins piling up on the account from elsewhere raise a live session's level at the next sweep (CAEP risk-level-change to clients with a stream), and a rise to high ends it.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../src/ssf/set.js';
import { Browser } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, discoverRp, loginAndExchange } from '../helpers/rp.js';
import { startTestReceiver } from '../ssf/helpers.js';

const OTHER = { clientId: 'other-rp', clientSecret: 'other-rp-secret-0123456789abcdefghijklmnop', redirectUri: 'http://127.0.0.1:1/other-cb' };
const INTERVAL_S = 60;
const PUSH = 'urn:ietf:rfc:8935';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** A broker whose velocity.account weight is `weight`; TEST_CLIENT has a push stream to a receiver written from the specs, OTHER has none. */
async function world(weight: number) {
  let offset = 0;
  const now = () => Date.now() + offset;
  const broker = await startBroker({
    now,
    config: {
      clients: [
        { clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], skipConsent: true },
        { clientId: OTHER.clientId, clientSecret: OTHER.clientSecret, redirectUris: [OTHER.redirectUri], skipConsent: true },
      ],
      session: { reverifyIntervalSeconds: INTERVAL_S },
      tokens: { accessTokenTtl: 86400 },
      risk: { weights: { 'velocity.account': weight } },
      ssf: { transmitter: { enabled: true, allowHttpEndpoints: true, allowPrivateEndpoints: true, pushRetrySeconds: [1] } },
    },
  });
  const receiver = await startTestReceiver({ issuer: broker.issuer, audience: TEST_CLIENT.clientId, authorization: 'Bearer receiver-token' });
  const created = await fetch(`${broker.url}/ssf/streams`, {
    method: 'POST',
    headers: { authorization: basic(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret), 'content-type': 'application/json' },
    body: JSON.stringify({ delivery: { method: PUSH, endpoint_url: receiver.url, authorization_header: 'Bearer receiver-token' } }),
  });
  expect(created.status).toBe(201);
  expect(((await created.json()) as { events_delivered: string[] }).events_delivered).toContain(EVENT.riskLevelChange);
  return {
    broker,
    receiver,
    advance: (ms: number) => (offset += ms),
    async close() {
      await broker.close();
      await receiver.close();
    },
  };
}

/** The local user signs in through `client` (offline_access): its tokens, account id and session id. */
async function signIn(broker: TestBroker, client: { clientId: string; clientSecret: string; redirectUri: string }) {
  const { config, tokens } = await loginAndExchange(broker.issuer, { client, params: { scope: 'openid offline_access', prompt: 'consent' } });
  const accountId = tokens.claims()!.sub;
  const sessionId = (await broker.app.broker.sessions.sessionsOf(accountId, Date.now() + 3600_000 * 0)).at(-1)!;
  expect(tokens.refresh_token).toBeTruthy();
  return { config, tokens, accountId, sessionId };
}

/** Someone elsewhere (another browser) gets the user's password wrong `times` times at the broker's login form. */
async function failedSignIns(broker: TestBroker, times: number) {
  const config = await discoverRp(broker.issuer);
  for (let i = 0; i < times; i++) {
    const browser = new Browser();
    const request = await authorizationRequest(config, TEST_CLIENT);
    const page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    const answer = await browser.submit(page, '/login', { username: TEST_USER.username, password: `wrong-${i}` }, TEST_CLIENT.redirectUri);
    expect(answer.status).toBeGreaterThanOrEqual(400);
  }
}

describe('a rise to medium at re-verification', () => {
  let w: Awaited<ReturnType<typeof world>>;
  beforeAll(async () => {
    // The sign-in's own signal (a new device, 20) plus 40 for the failures: 60, medium.
    w = await world(40);
  });
  afterAll(async () => w?.close());

  it('keeps the session, records the level, audits it and sends CAEP risk-level-change to the client with a stream only', async () => {
    const mine = await signIn(w.broker, TEST_CLIENT);
    const theirs = await signIn(w.broker, OTHER);
    expect((await w.broker.app.broker.sessions.get(mine.accountId, mine.sessionId))?.risk?.level).toBe('low');
    await failedSignIns(w.broker, 3);
    w.advance((INTERVAL_S + 1) * 1000);
    const before = w.receiver.received.length;
    await w.broker.app.scheduler.sweepOnce();
    await w.broker.app.ssf.transmitter!.idle();
    const kept = await w.broker.app.broker.sessions.get(mine.accountId, mine.sessionId);
    expect(kept?.risk).toMatchObject({ level: 'medium', score: 60, signals: ['device.new+20', 'velocity.account+40'] });
    expect((await oidc.refreshTokenGrant(mine.config, mine.tokens.refresh_token!)).access_token).toBeTruthy();
    const sets = w.receiver.received.slice(before);
    // One SET for TEST_CLIENT's session; OTHER's session changed too, but OTHER has no stream.
    expect(sets.map((set) => set.type)).toEqual([EVENT.riskLevelChange]);
    expect(sets[0]!.payload).toMatchObject({
      aud: TEST_CLIENT.clientId,
      // Named as session-revoked names it: the user as its ID tokens do (complex with the session when they carry a sid).
      sub_id: { format: 'iss_sub', iss: w.broker.issuer, sub: mine.accountId },
      events: { [EVENT.riskLevelChange]: { principal: 'SESSION', current_level: 'MEDIUM', previous_level: 'LOW', initiating_entity: 'policy' } },
    });
    expect((await w.broker.app.broker.sessions.get(theirs.accountId, theirs.sessionId))?.risk?.level).toBe('medium');
    expect(w.broker.audit).toContainEqual(expect.objectContaining({ event: 'risk.evaluated', accountId: mine.accountId, details: expect.objectContaining({ phase: 'reverify', level: 'medium', previous: 'low' }) }));
  });

  it('an unchanged level at the next sweep sends nothing and writes no risk record', async () => {
    w.advance((INTERVAL_S + 1) * 1000);
    const before = w.receiver.received.length;
    const audited = w.broker.audit.filter((e) => e.event === 'risk.evaluated').length;
    await w.broker.app.scheduler.sweepOnce();
    await w.broker.app.ssf.transmitter!.idle();
    expect(w.receiver.received.length).toBe(before);
    expect(w.broker.audit.filter((e) => e.event === 'risk.evaluated').length).toBe(audited);
  });
});

describe('a rise to high at re-verification', () => {
  let w: Awaited<ReturnType<typeof world>>;
  beforeAll(async () => {
    w = await world(90);
  });
  afterAll(async () => w?.close());

  it('ends the session (high_risk, risk.high audited): risk-level-change then session-revoked, and its refresh token fails', async () => {
    const mine = await signIn(w.broker, TEST_CLIENT);
    await failedSignIns(w.broker, 3);
    w.advance((INTERVAL_S + 1) * 1000);
    const before = w.receiver.received.length;
    await w.broker.app.scheduler.sweepOnce();
    await w.broker.app.ssf.transmitter!.idle();
    expect(await w.broker.app.broker.sessions.get(mine.accountId, mine.sessionId)).toBeUndefined();
    expect(w.broker.audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'high_risk', accountId: mine.accountId }));
    expect(w.broker.audit).toContainEqual(expect.objectContaining({ event: 'risk.high', accountId: mine.accountId, details: expect.objectContaining({ phase: 'reverify' }) }));
    expect(w.receiver.received.slice(before).map((set) => set.type)).toEqual([EVENT.riskLevelChange, EVENT.sessionRevoked]);
    expect(w.receiver.received[before]!.payload.events?.[EVENT.riskLevelChange]).toMatchObject({ current_level: 'HIGH', previous_level: 'LOW' });
    await expect(oidc.refreshTokenGrant(mine.config, mine.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
