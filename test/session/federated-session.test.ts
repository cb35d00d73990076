// SessionRepository: a new save drops the index entries of the account's sessions that have expired meanwhile; a re-verification's save leaves unchanged upstream indexes alone.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionRepository, type FederatedSession } from '../../src/session/federated-session.js';
import { MemoryStore } from '../../src/store/memory.js';

const TTL = 60_000;

function session(id: string, at: number): FederatedSession {
  return { id, accountId: 'acct', connectorId: 'corp', identity: { connectorId: 'corp', subject: 'u1', groups: [], amr: ['pwd'], rawClaims: {} }, createdAt: at, lastVerifiedAt: at };
}

describe('SessionRepository indexes', () => {
  it('keeps live sessions and drops expired ones from the account and upstream-subject indexes on the next save', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ now: () => now, sweepMs: 0 });
    const sessions = new SessionRepository(store, TTL);
    const account = () => ({ accountId: 'acct', connectorId: 'corp', claims: {}, updatedAt: now });
    await sessions.save(session('old', now), account());
    now += TTL / 2;
    await sessions.save(session('middle', now), account());
    expect(await sessions.sessionsOf('acct', now)).toEqual(['old', 'middle']);
    now += TTL / 2 + 1; // "old" has expired, "middle" has not
    await sessions.save(session('new', now), account());
    const index = await store.mapGetAll('account-sessions:{acct}');
    expect(Object.keys(index).sort()).toEqual(['middle', 'new']);
    const upstreamIndex = `upstream-sessions:{${createHash('sha256').update('corp\u0000u1').digest('base64url')}}`;
    expect(Object.keys(await store.mapGetAll(upstreamIndex)).sort()).toEqual(['acct.middle', 'acct.new']);
    expect((await sessions.byUpstreamSubject('corp', 'u1')).map((s) => s.id).sort()).toEqual(['middle', 'new']);
    await store.close();
  });

  it('a save that replaces a record with the same upstream subject, sid and end leaves the upstream indexes alone; a changed one rewrites them', async () => {
    const now = 1_000_000;
    const store = new MemoryStore({ now: () => now, sweepMs: 0 });
    const sessions = new SessionRepository(store, TTL);
    const account = { accountId: 'acct', connectorId: 'corp', claims: {}, updatedAt: now };
    const withSid = (s: FederatedSession, sid: string): FederatedSession => ({ ...s, identity: { ...s.identity, connectorData: { sid } } });
    const first = withSid(session('s1', now), 'sid-1');
    await sessions.save(first, account);
    const written: string[] = [];
    const batch = store.batch.bind(store);
    store.batch = async (ops) => {
      written.push(...ops.map((op) => op.key.split(':')[0]!));
      return batch(ops);
    };
    const stored = (await sessions.get('acct', 's1'))!;
    await sessions.save({ ...stored, lastVerifiedAt: now + 10 }, account, stored);
    expect(written.sort()).toEqual(['account', 'account-sessions', 'account-sessions', 'fsession']);
    expect((await sessions.get('acct', 's1'))!.lastVerifiedAt).toBe(now + 10);
    expect((await sessions.byUpstreamSid('corp', 'sid-1')).map((s) => s.id)).toEqual(['s1']);

    written.length = 0;
    const again = (await sessions.get('acct', 's1'))!;
    await sessions.save(withSid({ ...again, lastVerifiedAt: now + 20 }, 'sid-2'), account, again);
    expect(written.filter((key) => key.startsWith('upstream')).sort()).toEqual(['upstream-sessions', 'upstream-sessions', 'upstream-sid', 'upstream-sid']);
    expect((await sessions.byUpstreamSid('corp', 'sid-2')).map((s) => s.id)).toEqual(['s1']);
    expect((await sessions.byUpstreamSubject('corp', 'u1')).map((s) => s.id)).toEqual(['s1']);
    await store.close();
  });
});
