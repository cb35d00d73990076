// Re-verification against an OIDC upstream whose circuit is open: the session is unreachable and kept (grace), never ended as revoked.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/audit/auditor.js';
import { accountIdFor } from '../../src/connectors/claims.js';
import { circuitBreakers } from '../../src/connectors/circuit-report.js';
import { oidcConnectorFactory, type OidcConnector } from '../../src/connectors/oidc.js';
import { brokerClaims } from '../../src/session/account-claims.js';
import { newSessionId, SessionRepository } from '../../src/session/federated-session.js';
import { GrantBindings } from '../../src/session/grant-bindings.js';
import { checkSession, type ReverifyDeps } from '../../src/session/reverify.js';
import { createTerminator } from '../../src/session/terminate.js';
import { createTokenVault } from '../../src/session/vault.js';
import { MemoryStore } from '../../src/store/memory.js';
import { countingTokenFetch, startCountingUpstream, testConnectorContext, type TestUpstream } from '../helpers/upstream-oidc.js';

const HOUR = 3600_000;
const INTERVAL = 15 * 60_000;
const THRESHOLD = 2;
let upstream: TestUpstream;
let state: { refreshes: number; down: boolean };
/** Token requests the connector sent to the upstream. */
const tokenPosts = countingTokenFetch();

beforeAll(async () => {
  ({ upstream, state } = await startCountingUpstream('http://127.0.0.1:9'));
});
afterAll(async () => {
  await upstream.close();
});

async function oidcSession() {
  const store = new MemoryStore({ sweepMs: 0 });
  const now = Date.now;
  const audit: AuditInput[] = [];
  const auditor = { record: (input: AuditInput) => void audit.push(input) };
  const breaker = circuitBreakers({ settings: { failureThreshold: THRESHOLD, cooldownMs: HOUR }, now, logger: pino({ level: 'silent' }), audit: auditor.record, setState: () => {} });
  const config = oidcConnectorFactory.configSchema.parse(upstream.connectorConfig());
  const connector = (await oidcConnectorFactory.create({ id: 'acme', name: 'ACME', domains: [] }, config, testConnectorContext({ store, circuitBreaker: breaker, fetch: tokenPosts.fetch }))) as OidcConnector;
  const start = await connector.startLogin({ interactionUid: 'uid', callbackUrl: upstream.callbackUrl, state: 'state-1' });
  const callback = await upstream.browserLogin(start.redirectUrl as string);
  const { upstreamTokens, ...identity } = await connector.handleCallback({ method: 'GET', params: Object.fromEntries(callback.searchParams), url: callback }, start.transactionData);
  const sessions = new SessionRepository(store, 24 * HOUR, () => INTERVAL);
  const bindings = new GrantBindings(store, 24 * HOUR);
  const vault = createTokenVault({ store, keys: [randomBytes(32)], now });
  const terminate = createTerminator({ sessions, bindings, vault, auditor, revokeGrant: async () => {} });
  const deps: ReverifyDeps = { sessions, vault, connectors: new Map([['acme', connector]]), terminate, auditor, now, intervalOf: () => INTERVAL, graceMs: HOUR, retryMs: 30_000 };
  const accountId = accountIdFor('acme', identity.subject);
  const session = { id: newSessionId(), accountId, connectorId: 'acme', identity, createdAt: now(), lastVerifiedAt: now() };
  await sessions.save(session, { accountId, connectorId: 'acme', claims: brokerClaims(identity), updatedAt: now() });
  await vault.save(session.id, 'acme', upstreamTokens!);
  return { sessions, session, deps, audit };
}

describe('re-verification and the circuit', () => {
  it('failures open the circuit; a check while it is open is "unreachable", the session and its tokens are kept, nothing is ended', async () => {
    const { sessions, session, deps, audit } = await oidcSession();
    state.down = true;
    try {
      const postsAtStart = tokenPosts.posts();
      for (let i = 0; i < THRESHOLD; i++) expect(await checkSession(deps, (await sessions.get(session.accountId, session.id))!, { force: true })).toBe('unreachable');
      expect(audit).toContainEqual(expect.objectContaining({ event: 'upstream.circuit', reason: 'failures', connectorId: 'acme' }));
      expect(tokenPosts.posts() - postsAtStart).toBe(THRESHOLD);
      const postsBefore = tokenPosts.posts();
      expect(await checkSession(deps, (await sessions.get(session.accountId, session.id))!, { force: true })).toBe('unreachable');
      expect(tokenPosts.posts()).toBe(postsBefore);
    } finally {
      state.down = false;
    }
    expect(audit).toContainEqual(expect.objectContaining({ event: 'session.reverified', outcome: 'failure', connectorId: 'acme', reason: 'upstream_circuit_open' }));
    expect(audit.some((e) => e.event === 'session.ended')).toBe(false);
    const kept = await sessions.get(session.accountId, session.id);
    expect(kept).toBeDefined();
    expect(kept?.unreachableSince).toBeTypeOf('number');
    expect(await deps.vault.get(session.id)).toBeDefined();
  });
});
