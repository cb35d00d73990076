// The SSF receiver when the store fails mid-delivery: a SET is never lost to a false replay (the jti mark landed but its answer was lost, or the store failed while applying), and two deliveries of one SET at once apply it once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../src/ssf/set.js';
import { MemoryStore } from '../../src/store/memory.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { offlineUpstreamSignIn } from '../helpers/rp.js';
import { outage, withFaults } from '../helpers/store-faults.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';
import { startTestTransmitter } from './helpers.js';

const PUSH_AUTH = `Bearer ${'q'.repeat(40)}`;
const alice = { format: 'iss_sub', iss: 'upstream', sub: 'sub-alice' };
/** The store call that marks a SET's jti as being applied. */
const jtiMark = (method: string, args: unknown[]) => method === 'setIfAbsent' && String(args[0]).startsWith('ssf-jti:');

describe('SSF receiver with a failing store', () => {
  let upstream: TestUpstream;
  let transmitter: Awaited<ReturnType<typeof startTestTransmitter>>;
  let broker: TestBroker;
  // The store's clock runs ahead on demand, so a jti mark can lapse without waiting for it.
  let storeAhead = 0;
  const faults = withFaults(new MemoryStore({ sweepMs: 0, now: () => Date.now() + storeAhead }));

  beforeAll(async () => {
    const port = await freeLoopbackPort();
    upstream = await startTestUpstream({ brokerIssuer: `http://127.0.0.1:${port}`, connectorId: 'acme' });
    transmitter = await startTestTransmitter(`http://127.0.0.1:${port}`);
    broker = await startBroker({
      port,
      store: faults.store,
      providers: [{ id: 'acme', type: 'oidc', name: 'ACME', config: upstream.connectorConfig() }],
      config: { ssf: { receivers: [{ provider: 'acme', issuer: transmitter.issuer, jwksUri: transmitter.jwksUri, pushAuthorization: PUSH_AUTH }] } },
    });
  });
  afterAll(async () => {
    await broker?.close();
    await transmitter?.close();
    await upstream?.close();
  });

  async function signIn() {
    const { tokens } = await offlineUpstreamSignIn(broker.issuer);
    const sub = tokens.claims()!.sub;
    return { sub, sessionId: (await broker.app.broker.sessions.sessionsOf(sub)).slice(-1)[0]! };
  }
  const live = async (sub: string, sessionId: string) => (await broker.app.broker.sessions.sessionsOf(sub)).includes(sessionId);
  const push = (token: string) => fetch(`${broker.url}/ssf/push/acme`, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt', authorization: PUSH_AUTH }, body: token });

  it('the jti mark landed but its answer was lost: 503, and the retry once the mark lapses is applied, not refused as a replay', async () => {
    const { sub, sessionId } = await signIn();
    const { token } = await transmitter.sign(EVENT.sessionRevoked, alice);
    faults.arm(jtiMark, outage, { after: true });
    const failed = await push(token);
    expect(faults.fired).toBe(true);
    expect(failed.status).toBe(503);
    expect(Number(failed.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await live(sub, sessionId)).toBe(true);
    // The mark a lost answer left behind holds the jti for a while: meanwhile a retry is told to come back (503), never 400.
    const meanwhile = await push(token);
    expect(meanwhile.status).toBe(503);
    expect(await live(sub, sessionId)).toBe(true);
    // The mark lapses after 30 s.
    storeAhead += 31_000;
    const retried = await push(token);
    expect(retried.status).toBe(202);
    expect(await live(sub, sessionId)).toBe(false);
    expect((await push(token)).status).toBe(400);
  });

  it('the store fails while the SET is applied: 503, and the transmitter\'s retry is applied at once', async () => {
    const { sub, sessionId } = await signIn();
    const { token } = await transmitter.sign(EVENT.sessionRevoked, alice);
    faults.arm((method) => method === 'getMany' || method === 'mapGetAll', outage);
    const failed = await push(token);
    expect(faults.fired).toBe(true);
    expect(failed.status).toBe(503);
    const retried = await push(token);
    expect(retried.status).toBe(202);
    expect(await live(sub, sessionId)).toBe(false);
    const replay = await push(token);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toEqual({ err: 'invalid_request', description: 'set_replayed' });
  });

  it('two deliveries of one SET at the same moment: one applies it (202), the other is told to come back (503) or refused as a replay, never both applied', async () => {
    const first = await signIn();
    const second = await signIn();
    const from = broker.audit.length;
    const { token } = await transmitter.sign(EVENT.sessionRevoked, alice);
    const statuses = (await Promise.all([push(token), push(token)])).map((response) => response.status).sort();
    expect(statuses[0]).toBe(202);
    expect([400, 503]).toContain(statuses[1]);
    expect(await live(first.sub, first.sessionId)).toBe(false);
    expect(await live(second.sub, second.sessionId)).toBe(false);
    const applied = broker.audit.slice(from).filter((e) => e.event === 'ssf.received' && e.outcome === 'success');
    expect(applied).toHaveLength(1);
  });
});
