// A refresh for an account whose connector has left the configuration ends its sessions and is refused.
import * as oidc from 'openid-client';
import { describe, expect, it } from 'vitest';
import { localProvider, startBroker } from '../helpers/broker.js';
import { loginAndExchange } from '../helpers/rp.js';
import { MemoryStore } from '../../src/store/memory.js';

describe('connector removed from the configuration', () => {
  it('the next refresh is refused with invalid_grant, the session ends and the reason is audited', async () => {
    const store = new MemoryStore();
    const before = await startBroker({ store });
    const { config, tokens } = await loginAndExchange(before.issuer, { params: { scope: 'openid offline_access', prompt: 'consent' } });
    const sub = tokens.claims()!.sub;
    // Still configured: the refresh goes through.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    const port = before.port;
    await before.close();

    // The same issuer, store and client, but the local connector is now called something else.
    const after = await startBroker({ store, port, providers: [await localProvider('renamed-local')] });
    try {
      expect(await after.app.broker.sessions.sessionsOf(sub)).toHaveLength(1);
      await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect(after.audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'connector_removed', accountId: sub, connectorId: 'local' }));
      expect(await after.app.broker.sessions.sessionsOf(sub)).toEqual([]);
    } finally {
      await after.close();
      await store.close();
    }
  });
});
