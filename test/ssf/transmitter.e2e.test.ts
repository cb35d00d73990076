// The SSF transmitter against a receiver written here from the specs with jose: discovery, stream management per client, verification, session-revoked and credential-change pushed (with retries) or polled, and one receiver never seeing another's stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../src/ssf/set.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { loginAndExchange } from '../helpers/rp.js';
import { startTestReceiver } from './helpers.js';

const OTHER = { clientId: 'other-rp', clientSecret: 'other-rp-secret-0123456789abcdefghijklmnop' };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const AS_TEST = basic(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret);
const AS_OTHER = basic(OTHER.clientId, OTHER.clientSecret);
const PUSH = 'urn:ietf:rfc:8935';
const POLL = 'urn:ietf:rfc:8936';

describe('SSF transmitter', () => {
  let broker: TestBroker;
  let receiver: Awaited<ReturnType<typeof startTestReceiver>>;

  beforeAll(async () => {
    broker = await startBroker({
      config: {
        clients: [
          { clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], postLogoutRedirectUris: [TEST_CLIENT.postLogoutRedirectUri], skipConsent: true },
          { clientId: OTHER.clientId, clientSecret: OTHER.clientSecret, redirectUris: ['http://127.0.0.1:1/other-cb'] },
        ],
        // The test receiver listens on loopback over http: both allowed here, and only here.
        ssf: { transmitter: { enabled: true, allowHttpEndpoints: true, allowPrivateEndpoints: true, pushRetrySeconds: [1] } },
      },
    });
    receiver = await startTestReceiver({ issuer: broker.issuer, audience: TEST_CLIENT.clientId, authorization: 'Bearer receiver-token' });
  });
  afterAll(async () => {
    await broker?.close();
    await receiver?.close();
  });

  const api = (path: string, auth: string | undefined, method = 'GET', body?: unknown) =>
    fetch(`${broker.url}${path}`, {
      method,
      headers: { ...(auth ? { authorization: auth } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  const idle = () => broker.app.ssf.transmitter!.idle();

  /** Signs the local user in through TEST_CLIENT; returns the account, its session and the ID token's sid. */
  async function signIn() {
    const { tokens } = await loginAndExchange(broker.issuer);
    const claims = tokens.claims()!;
    const [sessionId] = (await broker.app.broker.sessions.sessionsOf(claims.sub)).slice(-1);
    const session = (await broker.app.broker.sessions.get(claims.sub, sessionId!))!;
    return { sub: claims.sub, session, sid: claims.sid as string | undefined };
  }

  let streamId = '';

  it('publishes its configuration at /.well-known/ssf-configuration', async () => {
    const metadata = (await (await fetch(`${broker.url}/.well-known/ssf-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      spec_version: '1_0',
      issuer: broker.issuer,
      jwks_uri: `${broker.issuer}/jwks`,
      delivery_methods_supported: [PUSH, POLL],
      configuration_endpoint: `${broker.issuer}/ssf/streams`,
      verification_endpoint: `${broker.issuer}/ssf/verify`,
    });
  });

  it('creates a push stream for the authenticated client and verifies it with a verification SET carrying the state', async () => {
    const created = await api('/ssf/streams', AS_TEST, 'POST', {
      delivery: { method: PUSH, endpoint_url: receiver.url, authorization_header: 'Bearer receiver-token' },
      events_requested: [EVENT.sessionRevoked, EVENT.credentialChange, 'https://schemas.example/unsupported'],
      description: 'test receiver',
    });
    expect(created.status).toBe(201);
    const stream = (await created.json()) as Record<string, unknown>;
    streamId = stream.stream_id as string;
    expect(stream).toMatchObject({
      iss: broker.issuer,
      aud: TEST_CLIENT.clientId,
      delivery: { method: PUSH, endpoint_url: receiver.url },
      events_delivered: [EVENT.sessionRevoked, EVENT.credentialChange],
    });
    // The authorization header the receiver gave is write-only.
    expect(JSON.stringify(stream)).not.toContain('receiver-token');
    expect((await api('/ssf/verify', AS_TEST, 'POST', { stream_id: streamId, state: 'state-123' })).status).toBe(204);
    await idle();
    expect(receiver.received.at(-1)).toMatchObject({ type: EVENT.verification, payload: { events: { [EVENT.verification]: { state: 'state-123' } }, sub_id: { format: 'opaque', id: streamId } } });
    // A second stream is refused (one per client by default).
    expect((await api('/ssf/streams', AS_TEST, 'POST', { delivery: { method: POLL } })).status).toBe(409);
  });

  it('a session that ends sends session-revoked naming the user as its ID tokens do; a credential change sends credential-change too', async () => {
    const first = await signIn();
    const before = receiver.received.length;
    await broker.app.broker.terminate(first.session, 'admin_revoked');
    await idle();
    const revoked = receiver.received.slice(before);
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({
      type: EVENT.sessionRevoked,
      payload: { aud: TEST_CLIENT.clientId, events: { [EVENT.sessionRevoked]: { initiating_entity: 'admin', reason_admin: { en: 'admin_revoked' } } } },
    });
    // This client's ID tokens carry no sid (no logout URI registered): the subject is the user, as its ID tokens name it.
    expect(first.sid).toBeUndefined();
    expect(revoked[0]!.payload.sub_id).toEqual({ format: 'iss_sub', iss: broker.issuer, sub: first.sub });

    const second = await signIn();
    const from = receiver.received.length;
    const auditFrom = broker.audit.length;
    await broker.app.broker.terminate(second.session, 'credential_change');
    await idle();
    expect(receiver.received.slice(from).map((set) => set.type)).toEqual([EVENT.sessionRevoked, EVENT.credentialChange]);
    expect(broker.audit.slice(auditFrom).filter((e) => e.event === 'ssf.delivered' && e.outcome === 'success' && e.accountId === second.sub)).toHaveLength(2);
  });

  it('two browsers of one user whose sessions end at the same moment: each SET reaches the receiver once, and each session-revoked before its credential-change', async () => {
    const first = await signIn();
    const second = await signIn();
    expect(second.session.id).not.toBe(first.session.id);
    const from = receiver.received.length;
    const auditFrom = broker.audit.length;
    await Promise.all([broker.app.broker.terminate(first.session, 'credential_change'), broker.app.broker.terminate(second.session, 'credential_change')]);
    await idle();
    const sets = receiver.received.slice(from);
    expect(sets.map((set) => set.type).sort()).toEqual([EVENT.credentialChange, EVENT.credentialChange, EVENT.sessionRevoked, EVENT.sessionRevoked]);
    expect(new Set(sets.map((set) => set.payload.jti)).size).toBe(4);
    // In the order they happened: at no point has the receiver seen more credential-changes than session-revokeds.
    const unmatched = sets.reduce((open, set) => {
      if (set.type === EVENT.sessionRevoked) return open + 1;
      expect(open).toBeGreaterThan(0);
      return open - 1;
    }, 0);
    expect(unmatched).toBe(0);
    expect(broker.audit.slice(auditFrom).filter((e) => e.event === 'ssf.delivered' && e.outcome === 'success')).toHaveLength(4);
  });

  it('a receiver that fails once gets the SET again after the backoff; a receiver that keeps failing is audited', async () => {
    const { session } = await signIn();
    receiver.script.push(503);
    const before = receiver.received.length;
    await broker.app.broker.terminate(session, 'admin_revoked');
    await idle();
    expect(receiver.received.length).toBe(before + 1);
    expect(broker.audit.filter((e) => e.event === 'ssf.delivered' && e.accountId === session.accountId).at(-1)).toMatchObject({ outcome: 'success', details: { attempts: 2 } });
    const next = await signIn();
    receiver.script.push(503, 503);
    await broker.app.broker.terminate(next.session, 'admin_revoked');
    await idle();
    expect(broker.audit.filter((e) => e.event === 'ssf.delivered' && e.accountId === next.session.accountId).at(-1)).toMatchObject({ outcome: 'failure', reason: 'delivery_failed' });
  });

  it('a paused stream or a removed subject gets nothing; adding the subject back resumes', async () => {
    const subject = async () => ({ format: 'iss_sub', iss: broker.issuer, sub: (await signIn()).sub });
    expect((await api('/ssf/status', AS_TEST, 'POST', { stream_id: streamId, status: 'paused', reason: 'maintenance' })).status).toBe(200);
    expect(await (await api(`/ssf/status?stream_id=${streamId}`, AS_TEST)).json()).toEqual({ stream_id: streamId, status: 'paused', reason: 'maintenance' });
    const paused = await signIn();
    const before = receiver.received.length;
    await broker.app.broker.terminate(paused.session, 'admin_revoked');
    await idle();
    expect(receiver.received.length).toBe(before);
    expect((await api('/ssf/status', AS_TEST, 'POST', { stream_id: streamId, status: 'enabled' })).status).toBe(200);

    const user = await subject();
    expect((await api('/ssf/subjects/remove', AS_TEST, 'POST', { stream_id: streamId, subject: user })).status).toBe(204);
    const removed = await signIn();
    await broker.app.broker.terminate(removed.session, 'admin_revoked');
    await idle();
    expect(receiver.received.length).toBe(before);
    expect((await api('/ssf/subjects/add', AS_TEST, 'POST', { stream_id: streamId, subject: user })).status).toBe(200);
    const added = await signIn();
    await broker.app.broker.terminate(added.session, 'admin_revoked');
    await idle();
    expect(receiver.received.length).toBe(before + 1);
    // A subject of another issuer is not one of this broker's users.
    expect((await api('/ssf/subjects/remove', AS_TEST, 'POST', { stream_id: streamId, subject: { format: 'email', email: 'a@b.test' } })).status).toBe(400);
  });

  it('one receiver never sees or changes another\'s stream; unauthenticated and wrong-secret requests get 401 and are audited', async () => {
    expect((await api(`/ssf/streams?stream_id=${streamId}`, AS_OTHER)).status).toBe(404);
    expect(await (await api('/ssf/streams', AS_OTHER)).json()).toEqual([]);
    expect((await api('/ssf/streams', AS_OTHER, 'PATCH', { stream_id: streamId, description: 'mine now' })).status).toBe(404);
    expect((await api(`/ssf/streams?stream_id=${streamId}`, AS_OTHER, 'DELETE')).status).toBe(404);
    expect((await api(`/ssf/status?stream_id=${streamId}`, AS_OTHER)).status).toBe(404);
    expect((await api('/ssf/verify', AS_OTHER, 'POST', { stream_id: streamId })).status).toBe(404);
    expect((await api(`/ssf/poll/${streamId}`, AS_OTHER, 'POST', {})).status).toBe(404);
    const from = broker.audit.length;
    const anonymous = await api('/ssf/streams', undefined);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="ssf"');
    expect((await api('/ssf/streams', basic(TEST_CLIENT.clientId, 'wrong-secret'))).status).toBe(401);
    expect(broker.audit.slice(from).filter((e) => e.event === 'ssf.stream' && e.outcome === 'failure').map((e) => e.reason)).toEqual(['invalid_client', 'invalid_client']);
    // The owner still sees its stream, unchanged.
    expect(await (await api(`/ssf/streams?stream_id=${streamId}`, AS_TEST)).json()).toMatchObject({ stream_id: streamId, description: 'test receiver' });
  });

  it('refuses malformed and oversized management requests', async () => {
    expect((await api('/ssf/streams', AS_OTHER, 'POST', { delivery: { method: 'urn:example:smoke-signals' } })).status).toBe(400);
    expect((await api('/ssf/streams', AS_OTHER, 'POST', { delivery: { method: PUSH, endpoint_url: 'ftp://receiver.test/x' } })).status).toBe(400);
    expect((await api('/ssf/streams', AS_OTHER, 'POST', { delivery: { method: PUSH, endpoint_url: receiver.url, authorization_header: 'a\r\nX-Injected: 1' } })).status).toBe(400);
    expect((await api('/ssf/streams', AS_OTHER, 'POST', { events_requested: 'all' })).status).toBe(400);
    const notJson = await fetch(`${broker.url}/ssf/streams`, { method: 'POST', headers: { authorization: AS_OTHER, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    const huge = await fetch(`${broker.url}/ssf/streams`, { method: 'POST', headers: { authorization: AS_OTHER, 'content-type': 'application/json' }, body: JSON.stringify({ description: 'x'.repeat(40_000) }) });
    expect(huge.status).toBe(413);
    expect((await api('/ssf/status', AS_TEST, 'POST', { stream_id: streamId, status: 'exploded' })).status).toBe(400);
  });

  it('a poll stream queues SETs for its receiver, who acknowledges them; a deleted stream is gone', async () => {
    const created = await api('/ssf/streams', AS_OTHER, 'POST', { delivery: { method: POLL }, events_requested: [EVENT.sessionRevoked] });
    expect(created.status).toBe(201);
    const stream = (await created.json()) as { stream_id: string; delivery: { endpoint_url: string } };
    expect(stream.delivery.endpoint_url).toBe(`${broker.issuer}/ssf/poll/${stream.stream_id}`);
    // A session of OTHER's: sign in through that client.
    const { tokens } = await loginAndExchange(broker.issuer, { client: { ...OTHER, redirectUri: 'http://127.0.0.1:1/other-cb' } });
    const sub = tokens.claims()!.sub;
    const [sessionId] = (await broker.app.broker.sessions.sessionsOf(sub)).slice(-1);
    await broker.app.broker.terminate((await broker.app.broker.sessions.get(sub, sessionId!))!, 'admin_revoked');
    const poll = async (ack: string[] = []) => (await (await api(`/ssf/poll/${stream.stream_id}`, AS_OTHER, 'POST', { ack, maxEvents: 10, returnImmediately: true })).json()) as { sets: Record<string, string>; moreAvailable: boolean };
    const first = await poll();
    const jtis = Object.keys(first.sets);
    expect(jtis).toHaveLength(1);
    const payload = JSON.parse(Buffer.from(first.sets[jtis[0]!]!.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ iss: broker.issuer, aud: OTHER.clientId, jti: jtis[0], events: { [EVENT.sessionRevoked]: {} } });
    expect(await poll(jtis)).toEqual({ sets: {}, moreAvailable: false });
    expect((await api(`/ssf/streams?stream_id=${stream.stream_id}`, AS_OTHER, 'DELETE')).status).toBe(204);
    expect((await api(`/ssf/streams?stream_id=${stream.stream_id}`, AS_OTHER)).status).toBe(404);
  });
});
