// Re-verifying local-account sessions: the account is still configured with the password it signed in with and is not locked; otherwise the sweep ends the session.
import * as oidc from 'openid-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderFile } from '../../src/config/schema.js';
import { hashPassword } from '../../src/connectors/local.js';
import { MemoryStore } from '../../src/store/memory.js';
import { localProvider, startBroker, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { loginAndExchange } from '../helpers/rp.js';

const INTERVAL = 15 * 60_000;
let offset = 0;
const now = () => Date.now() + offset;
const store = new MemoryStore({ now, sweepMs: 0 });
const started: TestBroker[] = [];

afterEach(async () => {
  for (const broker of started.splice(0)) await broker.close();
});

/** A broker instance on the shared store (as after a configuration reload) with these local users. */
async function instance(provider: ProviderFile): Promise<TestBroker> {
  const broker = await startBroker({ store, now, providers: [provider] });
  started.push(broker);
  return broker;
}

async function signedIn() {
  const first = await instance(await localProvider());
  const { tokens, config } = await loginAndExchange(first.issuer, { params: { scope: 'openid offline_access', prompt: 'consent' } });
  const sub = tokens.claims()!.sub;
  const [sessionId] = (await first.app.broker.sessions.sessionsOf(sub, now())).slice(-1);
  return { first, config, tokens, sub, sessionId: sessionId! };
}

const live = async (broker: TestBroker, sub: string, sessionId: string) => (await broker.app.broker.sessions.sessionsOf(sub, now())).includes(sessionId);

describe('local accounts at the sweep', () => {
  it('an unchanged account is verified and due again after the interval', async () => {
    const { first, sub, sessionId } = await signedIn();
    offset += INTERVAL;
    const at = now();
    expect((await first.app.scheduler.sweepOnce()).outcomes.verified).toBeGreaterThanOrEqual(1);
    const session = (await first.app.broker.sessions.get(sub, sessionId))!;
    expect(session.lastVerifiedAt).toBeGreaterThanOrEqual(at);
    expect(session.nextCheckAt).toBe(session.lastVerifiedAt + INTERVAL);
    expect(first.audit.some((e) => e.event === 'session.reverified' && e.outcome === 'success' && e.accountId === sub)).toBe(true);
  });

  it('a password changed in the configuration ends the session; its refresh token is refused', async () => {
    const { config, tokens, sub, sessionId } = await signedIn();
    const provider = await localProvider();
    const { password: _p, ...user } = TEST_USER;
    const reloaded = await instance({ ...provider, config: { users: [{ ...user, passwordHash: await hashPassword('a new password for alice') }] } });
    offset += INTERVAL;
    await reloaded.app.scheduler.sweepOnce();
    expect(await live(reloaded, sub, sessionId)).toBe(false);
    expect(reloaded.audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'account_removed', accountId: sub }));
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('an account removed from the configuration ends the session', async () => {
    const { sub, sessionId } = await signedIn();
    const provider = await localProvider();
    const reloaded = await instance({ ...provider, config: { users: [{ username: 'someone-else', passwordHash: await hashPassword('x'.repeat(12)), groups: [] }] } });
    offset += INTERVAL;
    await reloaded.app.scheduler.sweepOnce();
    expect(await live(reloaded, sub, sessionId)).toBe(false);
    expect(reloaded.audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'account_removed', accountId: sub }));
  });

  it('a locked account ends at its next check', async () => {
    const { first, sub, sessionId } = await signedIn();
    await first.app.broker.locks.lock(sub, 'test');
    offset += INTERVAL;
    await first.app.scheduler.sweepOnce();
    expect(await live(first, sub, sessionId)).toBe(false);
    expect(first.audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'account_locked', accountId: sub }));
    await first.app.broker.locks.unlock(sub);
  });
});
