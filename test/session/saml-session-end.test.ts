// SAML SessionNotOnOrAfter and the interval: carried from the assertion, the session's tokens are refused from then on (upstream_session_expired); at the interval it is marked for re-authentication and ends when its grace runs out.
import { randomBytes } from 'node:crypto';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/audit/auditor.js';
import { accountIdFor } from '../../src/connectors/claims.js';
import { createFindAccount } from '../../src/issuer/accounts.js';
import { brokerClaims } from '../../src/session/account-claims.js';
import { newSessionId, SessionRepository } from '../../src/session/federated-session.js';
import { GrantBindings } from '../../src/session/grant-bindings.js';
import { checkSession, reverifyAccount, type ReverifyDeps } from '../../src/session/reverify.js';
import { createTerminator } from '../../src/session/terminate.js';
import { createTokenVault } from '../../src/session/vault.js';
import { callbackInput, makeConnector, solicitedResponse, T0 } from '../connectors/saml-setup.js';

const HOUR = 3600_000;
const INTERVAL = 15 * 60_000;

async function samlSession(sessionNotOnOrAfter: number | undefined) {
  const e = await makeConnector();
  const { xml, transactionData } = await solicitedResponse(e, { nameId: 'sam', ...(sessionNotOnOrAfter === undefined ? {} : { sessionNotOnOrAfter }) });
  const identity = await e.connector.handleCallback(callbackInput(xml), transactionData);
  const now = e.clock.get;
  const sessions = new SessionRepository(e.store, 24 * HOUR, () => INTERVAL);
  const bindings = new GrantBindings(e.store, 24 * HOUR);
  const vault = createTokenVault({ store: e.store, keys: [randomBytes(32)], now });
  const audit: AuditInput[] = [];
  const auditor = { record: (input: AuditInput) => void audit.push(input) };
  const revoked: string[] = [];
  const terminate = createTerminator({ sessions, bindings, vault, auditor, revokeGrant: async (grantId) => void revoked.push(grantId) });
  const deps: ReverifyDeps = { sessions, vault, connectors: new Map([[e.id, e.connector]]), terminate, auditor, now, intervalOf: () => INTERVAL, graceMs: HOUR, retryMs: 30_000 };
  const accountId = accountIdFor(e.id, identity.subject);
  const session = { id: newSessionId(), accountId, connectorId: e.id, identity, createdAt: now(), lastVerifiedAt: now() };
  await sessions.save(session, { accountId, connectorId: e.id, claims: brokerClaims(identity), updatedAt: now() });
  await bindings.bind(accountId, session.id, 'grant-1');
  const findAccount = createFindAccount({ sessions, bindings, locks: { isLocked: async () => false }, now, reverify: (account, ids) => reverifyAccount(deps, account, ids) });
  const userinfo = () => findAccount({ oidc: { route: 'userinfo' } } as unknown as KoaContextWithOIDC, accountId, { grantId: 'grant-1' });
  const refresh = () => findAccount({ oidc: { route: 'token', params: { grant_type: 'refresh_token' } } } as unknown as KoaContextWithOIDC, accountId, { grantId: 'grant-1' });
  return { e, identity, sessions, session, deps, audit, revoked, userinfo, refresh };
}

describe('SAML SessionNotOnOrAfter', () => {
  it('is carried from the AuthnStatement into the identity and the session, which is due at that time', async () => {
    const { identity, sessions, session } = await samlSession(T0 + 10 * 60_000);
    expect(identity.sessionNotOnOrAfter).toBe(T0 + 10 * 60_000);
    expect((await sessions.get(session.accountId, session.id))?.nextCheckAt).toBe(T0 + 10 * 60_000);
  });

  it('from that time the session\'s tokens are refused (userinfo, refresh) and its check ends it, audited', async () => {
    const { e, sessions, session, deps, audit, revoked, userinfo, refresh } = await samlSession(T0 + 10 * 60_000);
    expect(await userinfo()).toBeDefined();
    expect(await refresh()).toBeDefined();
    e.clock.set(T0 + 10 * 60_000);
    expect(await userinfo()).toBeUndefined();
    expect(await refresh()).toBeUndefined();
    expect(await checkSession(deps, session)).toBe('ended');
    expect(await sessions.get(session.accountId, session.id)).toBeUndefined();
    expect(revoked).toEqual(['grant-1']);
    expect(audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'upstream_session_expired', accountId: session.accountId }));
  });

  it('without it, at its interval the session is marked for a passive round trip, serves its tokens for the grace, then ends', async () => {
    const { e, sessions, session, deps, audit, revoked, userinfo, refresh } = await samlSession(undefined);
    const GRACE = 300_000;
    expect(session.identity.sessionNotOnOrAfter).toBeUndefined();
    e.clock.set(T0 + INTERVAL);
    expect(await checkSession(deps, (await sessions.get(session.accountId, session.id))!)).toBe('marked');
    const marked = await sessions.get(session.accountId, session.id);
    expect(marked?.reauth).toEqual({ at: T0 + INTERVAL, mode: 'passive' });
    expect(marked?.nextCheckAt).toBe(T0 + INTERVAL + GRACE);
    expect(audit).toContainEqual(expect.objectContaining({ event: 'session.reverified', outcome: 'success', details: expect.objectContaining({ reauthentication: 'passive', upstreamAsked: false }) }));
    // Within the grace: a forced check keeps the first mark (no new grace), tokens are served.
    e.clock.set(T0 + INTERVAL + GRACE - 1);
    expect(await checkSession(deps, marked!)).toBe('marked');
    expect((await sessions.get(session.accountId, session.id))?.reauth?.at).toBe(T0 + INTERVAL);
    expect(await userinfo()).toBeDefined();
    expect(await refresh()).toBeDefined();
    // The grace ran out with no browser round trip: a refresh checks the overdue session first, which ends it.
    e.clock.set(T0 + INTERVAL + GRACE);
    expect(await refresh()).toBeUndefined();
    expect(await sessions.get(session.accountId, session.id)).toBeUndefined();
    expect(await userinfo()).toBeUndefined();
    expect(revoked).toEqual(['grant-1']);
    expect(audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'upstream_reauth_timeout', accountId: session.accountId }));
  });

  it('an assertion whose SessionNotOnOrAfter has passed is refused at the callback', async () => {
    const e = await makeConnector();
    const { xml, transactionData } = await solicitedResponse(e, { sessionNotOnOrAfter: T0 - 10 * 60_000 });
    await expect(e.connector.handleCallback(callbackInput(xml), transactionData)).rejects.toMatchObject({ code: 'saml_expired' });
  });
});
