// A client's SSF receiver hears nothing once the client is disabled or removed (RFC 7592 delete), and removal takes its streams with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InitialAccessTokens } from '../../src/clients/initial-access-tokens.js';
import { RegisteredClients } from '../../src/clients/registered-clients.js';
import { EVENT } from '../../src/ssf/set.js';
import { StreamRepository } from '../../src/ssf/streams.js';
import { createOidcAdapter } from '../../src/store/oidc-adapter.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { loginAndExchange, type RpClient } from '../helpers/rp.js';
import { startTestReceiver } from './helpers.js';

const PUSH = 'urn:ietf:rfc:8935';
const REDIRECT = 'http://127.0.0.1:1/cb';

describe('SSF streams of a client that is disabled or removed', () => {
  let broker: TestBroker;
  const receivers: Awaited<ReturnType<typeof startTestReceiver>>[] = [];

  beforeAll(async () => {
    broker = await startBroker({
      config: {
        authorizationServer: { registration: { enabled: true } },
        ssf: { transmitter: { enabled: true, allowHttpEndpoints: true, allowPrivateEndpoints: true, pushRetrySeconds: [1] } },
      },
    });
  });
  afterAll(async () => {
    await broker?.close();
    for (const receiver of receivers) await receiver.close();
  });

  /** Registers a client (RFC 7591), gives it a push stream to a fresh receiver, and signs the test user in through it. */
  async function registeredClientWithStream() {
    const { token } = await new InitialAccessTokens(broker.store, Date.now).create({ ttlSeconds: 600, maxUses: 1 });
    const response = await fetch(`${broker.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: 'Receiver app' }),
    });
    expect(response.status).toBe(201);
    const registered = (await response.json()) as Record<string, string>;
    const client: RpClient = { clientId: registered.client_id!, clientSecret: registered.client_secret!, redirectUri: REDIRECT };
    const receiver = await startTestReceiver({ issuer: broker.issuer, audience: client.clientId });
    receivers.push(receiver);
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret!)}`).toString('base64')}`;
    const stream = await fetch(`${broker.url}/ssf/streams`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/json' },
      body: JSON.stringify({ delivery: { method: PUSH, endpoint_url: receiver.url }, events_requested: [EVENT.sessionRevoked] }),
    });
    expect(stream.status).toBe(201);
    await broker.app.ssf.transmitter!.idle();
    const { tokens } = await loginAndExchange(broker.issuer, { client });
    const sub = tokens.claims()!.sub;
    const sessionId = (await broker.app.broker.sessions.sessionsOf(sub)).slice(-1)[0]!;
    const session = (await broker.app.broker.sessions.get(sub, sessionId))!;
    return { client, registered, receiver, session, streamId: ((await stream.json()) as { stream_id: string }).stream_id };
  }

  const sessionRevoked = (receiver: { received: { type: string }[] }) => receiver.received.filter((set) => set.type === EVENT.sessionRevoked);

  it('a live client hears of a session that ends (the control case)', async () => {
    const { receiver, session } = await registeredClientWithStream();
    await broker.app.broker.terminate(session, 'admin_revoked');
    await broker.app.ssf.transmitter!.idle();
    expect(sessionRevoked(receiver)).toHaveLength(1);
  });

  it('a disabled client hears nothing, and hears again once enabled', async () => {
    const { client, receiver, session } = await registeredClientWithStream();
    const clients = new RegisteredClients(broker.store, createOidcAdapter(broker.store));
    expect(await clients.setDisabled(client.clientId, true)).toBe(true);
    await broker.app.broker.terminate(session, 'admin_revoked');
    await broker.app.ssf.transmitter!.idle();
    expect(sessionRevoked(receiver)).toHaveLength(0);

    expect(await clients.setDisabled(client.clientId, false)).toBe(true);
    const { tokens } = await loginAndExchange(broker.issuer, { client });
    const sub = tokens.claims()!.sub;
    const again = (await broker.app.broker.sessions.get(sub, (await broker.app.broker.sessions.sessionsOf(sub)).slice(-1)[0]!))!;
    await broker.app.broker.terminate(again, 'admin_revoked');
    await broker.app.ssf.transmitter!.idle();
    expect(sessionRevoked(receiver)).toHaveLength(1);
  });

  it('a client deleted through RFC 7592 hears nothing, and its streams are gone from the store', async () => {
    const { client, registered, receiver, session, streamId } = await registeredClientWithStream();
    const streams = new StreamRepository(broker.store);
    expect((await streams.ofClient(client.clientId)).map((stream) => stream.stream_id)).toEqual([streamId]);
    const deleted = await fetch(registered.registration_client_uri!, { method: 'DELETE', headers: { authorization: `Bearer ${registered.registration_access_token}` } });
    expect(deleted.status).toBe(204);
    expect(await streams.ofClient(client.clientId)).toEqual([]);
    expect(await broker.store.get(`ssf-stream:${streamId}`)).toBeUndefined();

    await broker.app.broker.terminate(session, 'admin_revoked');
    await broker.app.ssf.transmitter!.idle();
    expect(sessionRevoked(receiver)).toHaveLength(0);
  });

  it('a client removed while a push waits for its retry gets no retry; the audit says why', async () => {
    const { client, receiver, session } = await registeredClientWithStream();
    receiver.script.push(503);
    const auditFrom = broker.audit.length;
    await broker.app.broker.terminate(session, 'admin_revoked');
    // The first attempt failed (503); the retry waits a second. Disable the client meanwhile.
    await new RegisteredClients(broker.store, createOidcAdapter(broker.store)).setDisabled(client.clientId, true);
    await broker.app.ssf.transmitter!.idle();
    expect(receiver.statuses).toEqual([503]);
    expect(sessionRevoked(receiver)).toHaveLength(0);
    expect(broker.audit.slice(auditFrom)).toContainEqual(expect.objectContaining({ event: 'ssf.delivered', outcome: 'failure', reason: 'client_gone', clientId: client.clientId }));
  });
});
