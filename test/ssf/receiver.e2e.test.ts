// The SSF receiver against a transmitter written here from the specs with jose: CAEP events pushed (RFC 8935) and polled (RFC 8936) end or flag real sessions of a real upstream; forged, replayed, expired and malformed SETs get 400 and an audit record.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepUpDemands } from '../../src/session/step-up-demand.js';
import { EVENT } from '../../src/ssf/set.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, offlineUpstreamSignIn } from '../helpers/rp.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';
import { startTestTransmitter } from './helpers.js';

const PUSH_AUTH = `Bearer ${'p'.repeat(40)}`;

describe('SSF receiver', () => {
  let upstream: TestUpstream;
  let transmitter: Awaited<ReturnType<typeof startTestTransmitter>>;
  let broker: TestBroker;

  beforeAll(async () => {
    const port = await freeLoopbackPort();
    upstream = await startTestUpstream({ brokerIssuer: `http://127.0.0.1:${port}`, connectorId: 'acme' });
    // The upstream's ID tokens carry a session id (`sid`) per sign-in, as an OP with back-channel logout sends.
    let sids = 0;
    upstream.tamperIdTokens((claims) => upstream.signIdToken({ ...claims, sid: `upstream-sid-${(sids += 1)}` }));
    transmitter = await startTestTransmitter(`http://127.0.0.1:${port}`);
    broker = await startBroker({
      port,
      providers: [{ id: 'acme', type: 'oidc', name: 'ACME', config: upstream.connectorConfig() }],
      config: {
        ssf: {
          receivers: [
            { provider: 'acme', issuer: transmitter.issuer, jwksUri: transmitter.jwksUri, pushAuthorization: PUSH_AUTH, pollUrl: transmitter.pollUrl, onDeviceComplianceChange: 'end' },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await broker?.close();
    await transmitter?.close();
    await upstream?.close();
  });

  /** A fresh federated session of alice (upstream sub `sub-alice`). */
  async function signIn() {
    const { config, tokens, browser } = await offlineUpstreamSignIn(broker.issuer);
    const sub = tokens.claims()!.sub;
    const [sessionId] = (await broker.app.broker.sessions.sessionsOf(sub)).slice(-1);
    const session = (await broker.app.broker.sessions.get(sub, sessionId!))!;
    return { config, tokens, browser, sub, sessionId: sessionId!, upstreamSid: session.identity.connectorData?.sid as string };
  }

  const live = async (sub: string, sessionId: string) => (await broker.app.broker.sessions.sessionsOf(sub)).includes(sessionId);

  const push = (token: string, headers: Record<string, string> = {}) =>
    fetch(`${broker.url}/ssf/push/acme`, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt', authorization: PUSH_AUTH, ...headers }, body: token });

  const alice = { format: 'iss_sub', iss: 'upstream', sub: 'sub-alice' };

  const auditOf = (from: number) => broker.audit.slice(from).filter((e) => e.event === 'ssf.received');

  it('session-revoked ends every session of the subject at once: its tokens die', async () => {
    const first = await signIn();
    const second = await signIn();
    const from = broker.audit.length;
    const { token } = await transmitter.sign(EVENT.sessionRevoked, alice, { initiating_entity: 'admin' });
    const response = await push(token);
    expect(response.status).toBe(202);
    expect(await response.text()).toBe('');
    expect(await live(first.sub, first.sessionId)).toBe(false);
    expect(await live(second.sub, second.sessionId)).toBe(false);
    await expect(oidc.refreshTokenGrant(first.config, first.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(auditOf(from)).toEqual([expect.objectContaining({ outcome: 'success', connectorId: 'acme', details: { event: 'session-revoked', sessionsEnded: 2, stepUpsDemanded: 0 } })]);
    expect(broker.audit.slice(from).filter((e) => e.event === 'session.ended' && e.reason === 'upstream_revoked')).toHaveLength(2);
  });

  it('a complex subject naming the upstream session (sid) ends only that session', async () => {
    const named = await signIn();
    const other = await signIn();
    expect(other.upstreamSid).not.toBe(named.upstreamSid);
    const { token } = await transmitter.sign(EVENT.sessionRevoked, { format: 'complex', user: alice, session: { format: 'opaque', id: named.upstreamSid } });
    expect((await push(token)).status).toBe(202);
    expect(await live(named.sub, named.sessionId)).toBe(false);
    expect(await live(other.sub, other.sessionId)).toBe(true);
  });

  it('credential-change ends the sessions, audited credential_change', async () => {
    const { sub, sessionId } = await signIn();
    const from = broker.audit.length;
    const { token } = await transmitter.sign(EVENT.credentialChange, alice, { credential_type: 'password', change_type: 'update' });
    expect((await push(token)).status).toBe(202);
    expect(await live(sub, sessionId)).toBe(false);
    expect(broker.audit.slice(from).some((e) => e.event === 'session.ended' && e.reason === 'credential_change' && e.accountId === sub)).toBe(true);
  });

  it('assurance-level-change down demands a step-up (the session stays); back up lifts the demand', async () => {
    const { sub, sessionId } = await signIn();
    const demands = new StepUpDemands(broker.store, 60_000);
    const down = await transmitter.sign(EVENT.assuranceLevelChange, alice, { namespace: 'NIST-AAL', current_level: 'aal1', previous_level: 'aal2', change_direction: 'decrease' });
    expect((await push(down.token)).status).toBe(202);
    expect(await live(sub, sessionId)).toBe(true);
    expect(await demands.demanded(sub, sessionId)).toMatchObject({ reason: 'assurance_level_change' });
    const up = await transmitter.sign(EVENT.assuranceLevelChange, alice, { namespace: 'NIST-AAL', current_level: 'aal2', previous_level: 'aal1', change_direction: 'increase' });
    expect((await push(up.token)).status).toBe(202);
    expect(await demands.demanded(sub, sessionId)).toBeUndefined();
  });

  it('a step-up demand reaches the next authorization: prompt=none answers interaction_required until the level is back', async () => {
    const { config, browser } = await signIn();
    const silent = async () => {
      const request = await authorizationRequest(config, TEST_CLIENT, { prompt: 'none', scope: 'openid email' });
      const answer = new URL((await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri)).url).searchParams;
      return answer.get('error') ?? (answer.get('code') ? 'code' : 'nothing');
    };
    expect(await silent()).toBe('code');
    const down = await transmitter.sign(EVENT.assuranceLevelChange, alice, { namespace: 'NIST-AAL', current_level: 'aal1', previous_level: 'aal2', change_direction: 'decrease' });
    expect((await push(down.token)).status).toBe(202);
    expect(await silent()).toBe('interaction_required');
    const up = await transmitter.sign(EVENT.assuranceLevelChange, alice, { namespace: 'NIST-AAL', current_level: 'aal2', previous_level: 'aal1', change_direction: 'increase' });
    expect((await push(up.token)).status).toBe(202);
    expect(await silent()).toBe('code');
  });

  it('device-compliance-change to not-compliant ends the session when policy says end', async () => {
    const { sub, sessionId } = await signIn();
    const { token } = await transmitter.sign(EVENT.deviceComplianceChange, alice, { previous_status: 'compliant', current_status: 'not-compliant' });
    expect((await push(token)).status).toBe(202);
    expect(await live(sub, sessionId)).toBe(false);
  });

  it('a replayed SET gets 400 and is audited, and does nothing', async () => {
    const { token } = await transmitter.sign(EVENT.sessionRevoked, { format: 'iss_sub', iss: 'upstream', sub: 'nobody' });
    expect((await push(token)).status).toBe(202);
    const { sub, sessionId } = await signIn();
    const from = broker.audit.length;
    const again = await push(token);
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ err: 'invalid_request', description: 'set_replayed' });
    expect(await live(sub, sessionId)).toBe(true);
    expect(auditOf(from)).toEqual([expect.objectContaining({ outcome: 'failure', reason: 'set_replayed' })]);
  });

  it.each([
    ['forged (signed by another key under the transmitter kid)', { forged: true }, 'invalid_key', 'set_bad_signature'],
    ['expired (issued an hour ago)', { iat: Math.floor(Date.now() / 1000) - 3600 }, 'invalid_request', 'set_expired'],
    ['from another issuer', { iss: 'https://evil.test' }, 'invalid_issuer', 'set_invalid_issuer'],
    ['for another audience', { aud: 'https://someone-else.test' }, 'invalid_audience', 'set_invalid_audience'],
    ['typed as a plain JWT (an ID token)', { typ: 'JWT' }, 'invalid_request', 'set_wrong_type'],
    ['carrying a nonce', { extra: { nonce: 'n' } }, 'invalid_request', 'set_malformed'],
  ] as const)('a SET %s gets 400 %s and an audit record; the session lives', async (_name, options, err, reason) => {
    const { sub, sessionId } = await signIn();
    const from = broker.audit.length;
    const { token } = await transmitter.sign(EVENT.sessionRevoked, alice, {}, options);
    const response = await push(token);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ err, description: reason });
    expect(await live(sub, sessionId)).toBe(true);
    expect(auditOf(from)).toEqual([expect.objectContaining({ outcome: 'failure', reason, connectorId: 'acme' })]);
  });

  it('an unknown event type, two events in one SET, or no subject get 400', async () => {
    const unknown = await transmitter.sign('https://schemas.example/unknown', alice);
    expect(await (await push(unknown.token)).json()).toEqual({ err: 'invalid_request', description: 'set_unknown_event' });
    const two = await transmitter.sign(EVENT.sessionRevoked, alice, {}, { extra: { events: { [EVENT.sessionRevoked]: {}, [EVENT.credentialChange]: {} } } });
    expect(await (await push(two.token)).json()).toEqual({ err: 'invalid_request', description: 'set_malformed' });
    const noSubject = await transmitter.sign(EVENT.sessionRevoked, alice, {}, { extra: { sub_id: undefined } });
    expect(await (await push(noSubject.token)).json()).toEqual({ err: 'invalid_request', description: 'set_no_subject' });
    expect((await push('not.a.jwt')).status).toBe(400);
  });

  it('a push without the configured Authorization, of another media type, oversized, or for an unknown provider is refused', async () => {
    const { token } = await transmitter.sign(EVENT.sessionRevoked, alice);
    const from = broker.audit.length;
    expect((await push(token, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await push(token, { 'content-type': 'application/jwt' })).status).toBe(415);
    expect((await push('x'.repeat(20_000))).status).toBe(413);
    expect(auditOf(from).map((e) => e.reason)).toEqual(['push_unauthenticated', 'unsupported_media_type', 'payload_too_large']);
    const unknown = await fetch(`${broker.url}/ssf/push/nope`, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt' }, body: token });
    expect(unknown.status).toBe(404);
  });

  it('poll delivery (RFC 8936): queued SETs are applied and acknowledged; an invalid one is reported in setErrs', async () => {
    const { sub, sessionId } = await signIn();
    const good = await transmitter.sign(EVENT.sessionRevoked, alice);
    const bad = await transmitter.sign(EVENT.sessionRevoked, alice, {}, { forged: true });
    transmitter.queue.set(good.jti, good.token);
    transmitter.queue.set(bad.jti, bad.token);
    const pollsBefore = transmitter.polls.length;
    expect(await broker.app.ssf.pollers[0]!.pollOnce()).toBe(1);
    expect(await live(sub, sessionId)).toBe(false);
    const sent = transmitter.polls.slice(pollsBefore);
    expect(sent.flatMap((poll) => poll.ack)).toEqual([good.jti]);
    expect(sent.some((poll) => (poll.setErrs as Record<string, { err: string }> | undefined)?.[bad.jti]?.err === 'invalid_key')).toBe(true);
    expect(transmitter.queue.size).toBe(0);
  });
});
