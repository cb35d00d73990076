// `vestibule clients …` against a running broker's Redis: initial access tokens issued, listed, spent and revoked; clients added, listed, shown, disabled, re-enabled, their secret rotated and removed, every instance seeing it at once.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisStore } from '../../src/store/redis.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore, REDIS_URL } from '../helpers/redis.js';
import { loginAndExchange } from '../helpers/rp.js';
import { json, vestibule } from './cli.js';

/** Each command is a child process (a few seconds on a loaded machine). */
const CLI_TEST_MS = 300_000;

let store: RedisStore;
let broker: TestBroker;
let configFile: string;
const vaultKey = randomBytes(32).toString('base64url');

beforeAll(async () => {
  store = await openRedisStore();
  const authorizationServer = { registration: { enabled: true } };
  broker = await startBroker({ store, config: { vaultKeys: [vaultKey], authorizationServer } });
  configFile = join(mkdtempSync(join(tmpdir(), 'vestibule-clients-')), 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      issuer: broker.issuer,
      providersDir: 'none',
      auditLog: 'off',
      vaultKeys: [vaultKey],
      store: { type: 'redis', url: REDIS_URL, prefix: store.prefix },
      clients: [{ clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri] }],
      authorizationServer,
    }),
  );
});
afterAll(async () => {
  await broker?.close();
  if (store) await disposeRedisStore(store);
});

const register = (token: string) =>
  fetch(`${broker.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ redirect_uris: ['https://app.example.com/cb'] }) });

describe('vestibule clients iat', () => {
  it('issues a single-use token that /reg accepts once, lists it as spent, and revokes a multi-use one', async () => {
    const created = await vestibule(['clients', 'iat', 'create', '--uses', '1', '--for', '1h', '--note', 'team-a', '--json'], configFile);
    expect(created.status).toBe(0);
    const { id, token } = json<{ id: string; token: string }>(created);
    expect((await register(token)).status).toBe(201);
    expect((await register(token)).status).toBe(401);

    const multi = json<{ id: string; token: string }>(await vestibule(['clients', 'iat', 'create', '--uses', '0', '--json'], configFile));
    const listed = json<{ tokens: { id: string; used: number; spent: boolean; note?: string }[] }>(await vestibule(['clients', 'iat', 'list', '--json'], configFile));
    expect(listed.tokens).toEqual(expect.arrayContaining([expect.objectContaining({ id, used: 1, spent: true, note: 'team-a' }), expect.objectContaining({ id: multi.id, used: 0, spent: false })]));
    expect(JSON.stringify(listed)).not.toContain(token);

    expect((await vestibule(['clients', 'iat', 'revoke', multi.id], configFile)).status).toBe(0);
    expect((await register(multi.token)).status).toBe(401);
    expect((await vestibule(['clients', 'iat', 'revoke', multi.id], configFile)).status).toBe(1);
    expect((await vestibule(['clients', 'iat', 'create', '--uses', '-1'], configFile)).status).toBe(2);
  }, CLI_TEST_MS);
});

describe('vestibule clients', () => {
  it('adds a client that signs in at once, shows and lists it, disables and re-enables it, rotates its secret and removes it', async () => {
    const added = await vestibule(['clients', 'add', '--redirect-uri', 'http://127.0.0.1:1/cli-cb', '--name', 'Reporting', '--json'], configFile);
    expect(added.status).toBe(0);
    const { clientId, clientSecret } = json<{ clientId: string; clientSecret: string }>(added);
    const client = { clientId, clientSecret, redirectUri: 'http://127.0.0.1:1/cli-cb' };
    const { tokens } = await loginAndExchange(broker.issuer, { client, params: { scope: 'openid email' } });
    expect(tokens.claims()?.aud).toBe(clientId);

    const shown = json<Record<string, unknown>>(await vestibule(['clients', 'show', clientId, '--json'], configFile));
    expect(shown).toMatchObject({ clientId, source: 'cli', name: 'Reporting', authMethod: 'client_secret_basic', disabled: false, redirectUris: ['http://127.0.0.1:1/cli-cb'] });
    expect(JSON.stringify(shown)).not.toContain(clientSecret);
    const listed = json<{ clients: { clientId: string; source: string }[] }>(await vestibule(['clients', 'list', '--json'], configFile));
    expect(listed.clients.map((c) => `${c.clientId}:${c.source}`)).toEqual(expect.arrayContaining([`${TEST_CLIENT.clientId}:config`, `${clientId}:cli`]));

    expect((await vestibule(['clients', 'disable', clientId], configFile)).status).toBe(0);
    await expect(loginAndExchange(broker.issuer, { client })).rejects.toThrow();
    expect((await vestibule(['clients', 'disable', clientId, '--enable'], configFile)).status).toBe(0);

    const rotated = json<{ clientSecret: string }>(await vestibule(['clients', 'rotate-secret', clientId, '--json'], configFile));
    expect(rotated.clientSecret).not.toBe(clientSecret);
    await expect(loginAndExchange(broker.issuer, { client })).rejects.toThrow();
    const fresh = await loginAndExchange(broker.issuer, { client: { ...client, clientSecret: rotated.clientSecret } });
    expect(fresh.tokens.access_token).toBeTruthy();

    expect((await vestibule(['clients', 'remove', clientId], configFile)).status).toBe(0);
    expect((await vestibule(['clients', 'show', clientId], configFile)).status).toBe(1);
    await expect(loginAndExchange(broker.issuer, { client: { ...client, clientSecret: rotated.clientSecret } })).rejects.toThrow();
  }, CLI_TEST_MS);

  it('refuses to act on configured clients, bad redirect URIs and bad usage', async () => {
    const configured = await vestibule(['clients', 'remove', TEST_CLIENT.clientId, '--json'], configFile);
    expect(configured.status).toBe(1);
    expect(json(configured).error).toBe('configured_client');
    const bad = await vestibule(['clients', 'add', '--redirect-uri', 'javascript:alert(1)', '--json'], configFile);
    expect(bad.status).toBe(1);
    expect(json(bad).error).toBe('invalid_redirect_uri');
    expect((await vestibule(['clients', 'add'], configFile)).status).toBe(2);
    const help = await vestibule(['clients', '--help'], configFile);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('clients rotate-secret');
  }, CLI_TEST_MS);
});
