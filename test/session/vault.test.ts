// The upstream token vault: AES-256-GCM at rest bound to the session, key rotation, and single-flight refresh before expiry.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectorError, type Identity, type RefreshableConnector, type UpstreamTokens } from '../../src/connectors/connector.js';
import { createTokenVault, type TokenVault } from '../../src/session/vault.js';
import { parseVaultKey, VaultKeyError } from '../../src/session/vault-crypto.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { disposeAllRedisStores, openRedisStore } from '../helpers/redis.js';

afterAll(async () => {
  await disposeAllRedisStores();
});

const MIN = 60_000;
const key = () => randomBytes(32);

function clock(start = 1_800_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A RefreshableConnector that counts calls and answers after a short delay, like a real upstream. */
function countingConnector(options: { rotate?: boolean; fail?: ConnectorError; delayMs?: number; now: () => number }) {
  let calls = 0;
  const connector: RefreshableConnector = {
    id: 'up',
    type: 'test',
    displayName: 'Up',
    domains: [],
    async refresh(identity: Identity): Promise<Identity> {
      calls++;
      await new Promise((r) => setTimeout(r, options.delayMs ?? 30));
      if (options.fail) throw options.fail;
      const tokens: UpstreamTokens = { accessToken: `at-${calls}`, expiresAt: options.now() + 60 * MIN };
      if (options.rotate) tokens.refreshToken = `rt-${calls}`;
      return { ...identity, upstreamTokens: tokens };
    },
  };
  return { connector, calls: () => calls };
}

const tokens = (expiresAt: number): UpstreamTokens => ({ accessToken: 'at-0', refreshToken: 'rt-0', idToken: 'id-0', expiresAt, scope: 'openid' });

describe('encryption at rest', () => {
  it('stores only ciphertext and reads back the tokens', async () => {
    const store = new MemoryStore({ sweepMs: 0 });
    const vault = createTokenVault({ store, keys: [key()] });
    await vault.save('sess-1', 'up', tokens(Date.now() + 60 * MIN));
    const raw = JSON.stringify(await store.get('vault:sess-1'));
    expect(raw).not.toContain('at-0');
    expect(raw).not.toContain('rt-0');
    expect(raw).toContain('"v":1');
    expect((await vault.get('sess-1'))?.tokens).toMatchObject({ accessToken: 'at-0', refreshToken: 'rt-0', idToken: 'id-0' });
    expect((await vault.get('sess-1'))?.connectorId).toBe('up');
  });

  it('binds the ciphertext to its session id (a box moved to another session does not open)', async () => {
    const store = new MemoryStore({ sweepMs: 0 });
    const vault = createTokenVault({ store, keys: [key()] });
    await vault.save('victim', 'up', tokens(Date.now() + 60 * MIN));
    await store.set('vault:attacker', await store.get('vault:victim'));
    expect(await vault.get('attacker')).toBeUndefined();
  });

  it('refuses tampered ciphertext or tag', async () => {
    const store = new MemoryStore({ sweepMs: 0 });
    const vault = createTokenVault({ store, keys: [key()] });
    await vault.save('s', 'up', tokens(Date.now() + 60 * MIN));
    const box = (await store.get<Record<string, string>>('vault:s'))!;
    const ct = Buffer.from(box.ct as string, 'base64url');
    ct[0] = (ct[0] as number) ^ 1;
    await store.set('vault:s', { ...box, ct: ct.toString('base64url') });
    expect(await vault.get('s')).toBeUndefined();
    await store.set('vault:s', { ...box, tag: Buffer.alloc(16).toString('base64url') });
    expect(await vault.get('s')).toBeUndefined();
    await store.set('vault:s', 'not a box');
    expect(await vault.get('s')).toBeUndefined();
  });

  it('rotates keys: the first encrypts, all decrypt; a retired key no longer opens new boxes', async () => {
    const store = new MemoryStore({ sweepMs: 0 });
    const oldKey = key();
    const newKey = key();
    await createTokenVault({ store, keys: [oldKey] }).save('a', 'up', tokens(Date.now() + 60 * MIN));
    const rotated = createTokenVault({ store, keys: [newKey.toString('base64'), oldKey.toString('base64url')] });
    expect((await rotated.get('a'))?.tokens.accessToken).toBe('at-0');
    await rotated.save('b', 'up', tokens(Date.now() + 60 * MIN));
    expect(await createTokenVault({ store, keys: [oldKey] }).get('b')).toBeUndefined();
    expect((await createTokenVault({ store, keys: [newKey] }).get('b'))?.tokens.accessToken).toBe('at-0');
  });

  it('fails closed on an entry no key opens: getFresh throws upstream_tokens_unreadable (audited at error level) and never calls the upstream', async () => {
    const store = new MemoryStore({ sweepMs: 0 });
    const c = clock();
    await createTokenVault({ store, keys: [key()], now: c.now }).save('s', 'up', tokens(c.now() + 60 * MIN));
    const audit: { event: string; level?: string; reason?: string }[] = [];
    const vault = createTokenVault({ store, keys: [key()], now: c.now, auditor: { record: (input) => audit.push(input) } });
    const { connector, calls } = countingConnector({ now: c.now });
    expect(await vault.get('s')).toBeUndefined();
    await expect(vault.getFresh('s', connector, undefined, { maxAgeMs: 0 })).rejects.toMatchObject({ name: 'ConnectorError', code: 'upstream_tokens_unreadable' });
    expect(calls()).toBe(0);
    expect(audit).toEqual([expect.objectContaining({ event: 'upstream.token.refresh_failed', level: 'error', reason: 'upstream_tokens_unreadable' })]);
    // No entry at all is not a failure: nothing to refresh.
    expect(await vault.getFresh('nobody', connector)).toBeUndefined();
  });

  it('accepts only 32-byte keys', () => {
    expect(() => parseVaultKey(randomBytes(16).toString('base64'))).toThrow(VaultKeyError);
    expect(() => createTokenVault({ store: new MemoryStore({ sweepMs: 0 }), keys: [] })).toThrow(VaultKeyError);
    expect(parseVaultKey(Buffer.alloc(32, 7).toString('base64url'))).toEqual(Buffer.alloc(32, 7));
  });

  it('deletes', async () => {
    const store = new MemoryStore({ sweepMs: 0 });
    const vault = createTokenVault({ store, keys: [key()] });
    await vault.save('s', 'up', tokens(Date.now() + 60 * MIN));
    await vault.delete('s');
    expect(await vault.get('s')).toBeUndefined();
  });
});

function refreshSuite(name: string, makeStore: (now: () => number) => Promise<KeyValueStore>) {
  describe(`refresh before expiry (${name})`, () => {
    async function setup(expiresInMs: number, connectorOptions: { rotate?: boolean; fail?: ConnectorError } = {}) {
      const c = clock();
      const store = await makeStore(c.now);
      const keys = [key()];
      const options = { store, keys, now: c.now, pollMs: 10 };
      // Two vault instances on one store behave like two broker processes.
      const vaults: TokenVault[] = [createTokenVault(options), createTokenVault(options)];
      await vaults[0]!.save('sess', 'up', tokens(c.now() + expiresInMs));
      const counting = countingConnector({ ...connectorOptions, now: c.now });
      return { c, store, vaults, ...counting };
    }

    it('refreshes a token 4 minutes from expiry exactly once under 20 concurrent requests (two processes)', async () => {
      const { vaults, connector, calls } = await setup(4 * MIN, { rotate: true });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => vaults[i % 2]!.getFresh('sess', connector)));
      expect(calls()).toBe(1);
      for (const r of results) expect(r?.tokens.accessToken).toBe('at-1');
      expect(results.filter((r) => r?.refreshed).length).toBeGreaterThanOrEqual(1);
      expect((await vaults[1]!.get('sess'))?.tokens).toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1' });
      // And the fresh token is not refreshed again.
      await vaults[0]!.getFresh('sess', connector);
      expect(calls()).toBe(1);
    });

    it('does not refresh a token 10 minutes from expiry', async () => {
      const { vaults, connector, calls } = await setup(10 * MIN);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => vaults[i % 2]!.getFresh('sess', connector)));
      expect(calls()).toBe(0);
      for (const r of results) expect(r).toMatchObject({ refreshed: false, tokens: { accessToken: 'at-0' } });
    });

    it('refreshes once the clock moves into the skew window', async () => {
      const { c, vaults, connector, calls } = await setup(10 * MIN);
      c.advance(5 * MIN + 1000);
      expect((await vaults[0]!.getFresh('sess', connector))?.tokens.accessToken).toBe('at-1');
      expect(calls()).toBe(1);
    });

    it('keeps the old refresh token when the upstream does not send a new one', async () => {
      const { vaults, connector } = await setup(MIN, { rotate: false });
      const fresh = await vaults[0]!.getFresh('sess', connector);
      expect(fresh?.tokens).toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-0' });
      expect((await vaults[1]!.get('sess'))?.tokens.refreshToken).toBe('rt-0');
    });

    it('reports a refused refresh to every waiter, calling the upstream once', async () => {
      const { vaults, connector, calls } = await setup(MIN, { fail: new ConnectorError('upstream_revoked', 'invalid_grant', { status: 401 }) });
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => vaults[i % 2]!.getFresh('sess', connector)));
      expect(calls()).toBe(1);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect(((r as PromiseRejectedResult).reason as ConnectorError).code).toBe('upstream_revoked');
      }
      expect((await vaults[0]!.get('sess'))?.tokens.accessToken).toBe('at-0');
    });

    it('answers undefined for an unknown session', async () => {
      const { vaults, connector } = await setup(MIN);
      expect(await vaults[0]!.getFresh('nope', connector)).toBeUndefined();
    });
  });
}

refreshSuite('memory store', async (now) => new MemoryStore({ now, sweepMs: 0 }));
refreshSuite('redis store', async () => openRedisStore());

describe('refresh edge cases', () => {
  it('an expired token without a refresh token is an error; a live one is returned as is', async () => {
    const c = clock();
    const store = new MemoryStore({ now: c.now, sweepMs: 0 });
    const vault = createTokenVault({ store, keys: [key()], now: c.now });
    const { connector, calls } = countingConnector({ now: c.now });
    await vault.save('live', 'up', { accessToken: 'a', expiresAt: c.now() + MIN });
    expect((await vault.getFresh('live', connector))?.tokens.accessToken).toBe('a');
    await vault.save('dead', 'up', { accessToken: 'a', expiresAt: c.now() - 1 });
    await expect(vault.getFresh('dead', connector)).rejects.toMatchObject({ code: 'refresh_unavailable' });
    expect(calls()).toBe(0);
  });

  it('tokens with no known expiry are never refreshed', async () => {
    const c = clock();
    const vault = createTokenVault({ store: new MemoryStore({ now: c.now, sweepMs: 0 }), keys: [key()], now: c.now });
    const { connector, calls } = countingConnector({ now: c.now });
    await vault.save('s', 'up', { accessToken: 'a', refreshToken: 'r' });
    expect((await vault.getFresh('s', connector))?.refreshed).toBe(false);
    expect(calls()).toBe(0);
  });

  it('refuses to refresh through another connector', async () => {
    const c = clock();
    const vault = createTokenVault({ store: new MemoryStore({ now: c.now, sweepMs: 0 }), keys: [key()], now: c.now });
    await vault.save('s', 'other', tokens(c.now() + MIN));
    const { connector, calls } = countingConnector({ now: c.now });
    await expect(vault.getFresh('s', connector)).rejects.toMatchObject({ code: 'vault_connector_mismatch' });
    expect(calls()).toBe(0);
  });

  it('a lock left by a dead process expires and the next caller refreshes', async () => {
    const c = clock();
    const store = new MemoryStore({ sweepMs: 0 });
    const vault = createTokenVault({ store, keys: [key()], now: c.now, lockTtlMs: 200, pollMs: 10 });
    await vault.save('s', 'up', tokens(c.now() + MIN));
    await store.setIfAbsent('vault-lock:s', 'dead-process', 200);
    const { connector, calls } = countingConnector({ now: c.now });
    expect((await vault.getFresh('s', connector))?.tokens.accessToken).toBe('at-1');
    expect(calls()).toBe(1);
  });
});
