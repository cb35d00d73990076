// Registered-client records on the memory store and on real Redis: an open registration lives while it is used, a disabled client is not found, removal and secret rotation, the index.
import { afterEach, describe, expect, it } from 'vitest';
import { RegisteredClients, withRegisteredClients } from '../../src/clients/registered-clients.js';
import { createOidcAdapter } from '../../src/store/oidc-adapter.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';

const DAY = 86400_000;
const metadata = (clientId: string, extra: Record<string, unknown> = {}) => ({ client_id: clientId, redirect_uris: ['http://127.0.0.1:1/cb'], token_endpoint_auth_method: 'client_secret_basic', client_secret: 's'.repeat(43), ...extra });

describe.each(STORE_BACKENDS)('registered clients on the %s store', (_name, open) => {
  let store: KeyValueStore | undefined;
  afterEach(async () => {
    await closeTestStore(store);
    store = undefined;
  });

  it('keeps an open registration while it is used, at most one write per hour', async () => {
    store = await open();
    let clock = Date.now();
    const Adapter = createOidcAdapter(store);
    const registered = new RegisteredClients(store, Adapter, () => clock);
    await registered.save('agent', metadata('agent', { token_endpoint_auth_method: 'none' }), 'open', 2 * DAY);
    const key = 'oidc:{oidc}:Client:agent';
    expect(await store.ttl(key)).toBeGreaterThan(2 * DAY - 60_000);

    const clients = new (withRegisteredClients(Adapter, registered, 2 * DAY))('Client');
    clock += 30 * 60_000;
    expect(await clients.find('agent')).toBeDefined();
    expect((await registered.meta('agent'))?.touchedAt).toBe(clock - 30 * 60_000);
    clock += 31 * 60_000;
    expect(await clients.find('agent')).toBeDefined();
    expect((await registered.meta('agent'))?.touchedAt).toBe(clock);
  });

  it('hides a disabled client from oidc-provider until enabled, removes one, rotates a secret, and never looks up an https client_id', async () => {
    store = await open();
    const Adapter = createOidcAdapter(store);
    const registered = new RegisteredClients(store, Adapter);
    const clients = new (withRegisteredClients(Adapter, registered, DAY))('Client');
    await registered.save('app', metadata('app'), 'cli');
    await registered.save('other', metadata('other'), 'token');
    expect((await registered.list()).map((client) => `${client.clientId}:${client.meta.origin}`)).toEqual(['app:cli', 'other:token']);

    expect(await registered.setDisabled('app', true)).toBe(true);
    expect(await clients.find('app')).toBeUndefined();
    expect((await registered.get('app'))?.meta.disabled).toBe(true);
    await registered.setDisabled('app', false);
    expect(await clients.find('app')).toBeDefined();

    const secret = await registered.rotateSecret('app');
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await clients.find('app'))?.client_secret).toBe(secret);

    expect(await registered.remove('app')).toBe(true);
    expect(await clients.find('app')).toBeUndefined();
    expect(await registered.remove('app')).toBe(false);
    expect((await registered.list()).map((client) => client.clientId)).toEqual(['other']);

    await store.set('oidc:{oidc}:Client:https://agent.example/doc', metadata('https://agent.example/doc'));
    expect(await clients.find('https://agent.example/doc')).toBeUndefined();
  });
});
