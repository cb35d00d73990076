// Dynamic client registration (RFC 7591) and management (RFC 7592) over real HTTP: initial access tokens, the registration policy's RFC 7591 codes, software statements, open agent registration, and a registered client signing in on a second instance sharing Redis.
import { generateKeyPair, exportJWK, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InitialAccessTokens } from '../../src/clients/initial-access-tokens.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { loginAndExchange } from '../helpers/rp.js';
import { closeTestStore } from '../helpers/stores.js';
import { openRedisStore } from '../helpers/redis.js';
import type { KeyValueStore } from '../../src/store/store.js';

const RESOURCE = 'https://mcp-a.test/mcp';
const statementKeys = await generateKeyPair('ES256');
const strangerKeys = await generateKeyPair('ES256');
const statementJwk = { ...(await exportJWK(statementKeys.publicKey)), kid: 'publisher-1' };

function registrationConfig(extra: Record<string, unknown> = {}) {
  return {
    authorizationServer: {
      registration: { enabled: true, maxMetadataBytes: 2048, softwareStatementKeys: [statementJwk], ...extra },
      resourceServers: [{ identifier: RESOURCE, scopes: ['mcp:tools', 'mcp:read'] }],
    },
  };
}

const NATIVE = { redirect_uris: ['http://127.0.0.1:1/cb'], client_name: 'Agent CLI' };

async function register(broker: TestBroker, body: unknown, token?: string, raw?: string) {
  const response = await fetch(`${broker.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: raw ?? JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

describe('dynamic client registration with initial access tokens', () => {
  let clock = Date.now();
  let broker: TestBroker;
  let tokens: InitialAccessTokens;
  beforeAll(async () => {
    broker = await startBroker({ config: registrationConfig(), now: () => clock });
    tokens = new InitialAccessTokens(broker.store, () => clock);
  });
  afterAll(() => broker.close());

  it('advertises the registration endpoint and only the configured authentication methods and features, in both metadata documents', async () => {
    const discovery = (await (await fetch(`${broker.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    const rfc8414 = (await (await fetch(`${broker.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(rfc8414).toEqual(discovery);
    expect(discovery.registration_endpoint).toBe(`${broker.issuer}/reg`);
    expect(discovery.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'none']);
    expect(discovery).not.toHaveProperty('pushed_authorization_request_endpoint');
    expect(discovery).not.toHaveProperty('dpop_signing_alg_values_supported');
    expect(discovery).not.toHaveProperty('device_authorization_endpoint');
    expect(discovery).not.toHaveProperty('client_id_metadata_document_supported');
  });

  it('registers with a token, then reads, updates and deletes the client with its registration access token (RFC 7592)', async () => {
    const { token } = await tokens.create({ ttlSeconds: 600, maxUses: 0 });
    const created = await register(broker, { ...NATIVE, scope: 'openid mcp:tools' }, token);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ redirect_uris: NATIVE.redirect_uris, application_type: 'native', token_endpoint_auth_method: 'client_secret_basic', scope: 'openid mcp:tools' });
    expect(String(created.body.client_secret).length).toBeGreaterThanOrEqual(32);
    const uri = String(created.body.registration_client_uri);
    const rat = String(created.body.registration_access_token);
    expect(uri).toBe(`${broker.issuer}/reg/${String(created.body.client_id)}`);

    const read = await fetch(uri, { headers: { authorization: `Bearer ${rat}` } });
    expect(read.status).toBe(200);
    expect(((await read.json()) as Record<string, unknown>).client_name).toBe('Agent CLI');
    expect((await fetch(uri, { headers: { authorization: 'Bearer forged' } })).status).toBe(401);

    const updated = await fetch(uri, {
      method: 'PUT',
      headers: { authorization: `Bearer ${rat}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: created.body.client_id, ...NATIVE, client_name: 'Agent CLI 2' }),
    });
    const updatedBody = (await updated.json()) as Record<string, unknown>;
    expect(updated.status, JSON.stringify(updatedBody)).toBe(200);
    expect(updatedBody.client_name).toBe('Agent CLI 2');
    const rotated = String(updatedBody.registration_access_token);
    expect(rotated).not.toBe(rat);
    // An update is held to the same policy as a registration.
    const badUpdate = await fetch(uri, {
      method: 'PUT',
      headers: { authorization: `Bearer ${rotated}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: created.body.client_id, redirect_uris: ['javascript:alert(1)'] }),
    });
    expect(badUpdate.status).toBe(400);
    expect(((await badUpdate.json()) as Record<string, unknown>).error).toBe('invalid_redirect_uri');

    const deleted = await fetch(uri, { method: 'DELETE', headers: { authorization: `Bearer ${rotated}` } });
    expect(deleted.status).toBe(204);
    expect((await fetch(uri, { headers: { authorization: `Bearer ${rotated}` } })).status).toBe(401);
    const events = broker.audit.filter((event) => event.clientId === created.body.client_id).map((event) => `${event.event}:${event.outcome}`);
    expect(events).toEqual(expect.arrayContaining(['client.registered:success', 'client.updated:success', 'client.deleted:success']));
  });

  it('refuses a registration without a token, with an unknown one, a spent single-use one and an expired one (401 invalid_token)', async () => {
    expect((await register(broker, NATIVE)).status).toBe(401);
    const unknown = await register(broker, NATIVE, 'vit_not-a-token');
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe('invalid_token');
    expect(unknown.headers.get('www-authenticate')).toMatch(/^Bearer /);

    const single = await tokens.create({ ttlSeconds: 600, maxUses: 1 });
    expect((await register(broker, NATIVE, single.token)).status).toBe(201);
    const spent = await register(broker, NATIVE, single.token);
    expect(spent.status).toBe(401);
    expect(spent.body.error).toBe('invalid_token');

    const short = await tokens.create({ ttlSeconds: 60, maxUses: 0 });
    clock += 61_000;
    expect((await register(broker, NATIVE, short.token)).status).toBe(401);
    const reasons = broker.audit.filter((event) => event.event === 'client.registered' && event.outcome === 'failure').map((event) => event.reason);
    expect(reasons).toEqual(expect.arrayContaining(['initial_access_token_missing', 'initial_access_token_unknown', 'initial_access_token_spent', 'initial_access_token_expired']));
  });

  it('spends a single-use token once when two registrations race with it', async () => {
    const { token } = await tokens.create({ ttlSeconds: 600, maxUses: 1 });
    const results = await Promise.all([register(broker, NATIVE, token), register(broker, NATIVE, token)]);
    expect(results.map((result) => result.status).sort()).toEqual([201, 401]);
  });

  it.each([
    ['an http redirect URI to a public host', { redirect_uris: ['http://app.example.com/cb'] }, 'invalid_redirect_uri'],
    ['a javascript: redirect URI', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
    ['a data: redirect URI', { redirect_uris: ['data:text/html,hi'] }, 'invalid_redirect_uri'],
    ['a redirect URI with a fragment', { redirect_uris: ['https://app.example.com/cb#x'] }, 'invalid_redirect_uri'],
    ['a web app with a loopback redirect', { redirect_uris: ['http://127.0.0.1:1/cb'], application_type: 'web' }, 'invalid_redirect_uri'],
    ['no redirect URI for the code flow', { client_name: 'x' }, 'invalid_redirect_uri'],
    ['an unknown grant type', { ...NATIVE, grant_types: ['client_credentials'] }, 'invalid_client_metadata'],
    ['the implicit flow', { ...NATIVE, response_types: ['token'] }, 'invalid_client_metadata'],
    ['private_key_jwt', { ...NATIVE, token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
    ['a scope not offered', { ...NATIVE, scope: 'openid admin:everything' }, 'invalid_client_metadata'],
    ['an http client_uri', { ...NATIVE, client_uri: 'http://app.example.com' }, 'invalid_client_metadata'],
    ['a jwks_uri', { ...NATIVE, jwks_uri: 'https://169.254.169.254/keys' }, 'invalid_client_metadata'],
    ['an array instead of an object', [NATIVE], 'invalid_client_metadata'],
  ])('refuses %s with %s', async (_name, body, code) => {
    const { token } = await tokens.create({ ttlSeconds: 600, maxUses: 1 });
    const refused = await register(broker, body, token);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe(code);
    expect(String(refused.body.error_description)).not.toMatch(/\bat .*\.(ts|js):\d+/);
    // A refused registration does not spend the token.
    expect((await register(broker, NATIVE, token)).status).toBe(201);
  });

  it('refuses oversized metadata and malformed JSON with invalid_client_metadata', async () => {
    const { token } = await tokens.create({ ttlSeconds: 600, maxUses: 0 });
    const oversized = await register(broker, { ...NATIVE, client_name: 'x'.repeat(3000) }, token);
    expect(oversized.status).toBe(400);
    expect(oversized.body.error).toBe('invalid_client_metadata');
    const malformed = await register(broker, undefined, token, '{"redirect_uris": [');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('invalid_client_metadata');
  });

  it('accepts a software statement signed by a configured key (its claims win) and refuses unsigned or wrongly signed ones', async () => {
    const { token } = await tokens.create({ ttlSeconds: 600, maxUses: 0 });
    const claims = { software_id: 'agent-7', client_name: 'Signed Agent', iss: 'publisher' };
    const signed = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'publisher-1' }).setIssuedAt().sign(statementKeys.privateKey);
    const accepted = await register(broker, { ...NATIVE, client_name: 'Claimed Name', software_statement: signed }, token);
    expect(accepted.status).toBe(201);
    expect(accepted.body.client_name).toBe('Signed Agent');

    const unsigned = new UnsecuredJWT(claims).encode();
    const stranger = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'publisher-1' }).sign(strangerKeys.privateKey);
    const tampered = `${signed.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, client_name: 'Evil' })).toString('base64url')}.${signed.split('.')[2]}`;
    for (const statement of [unsigned, stranger, tampered, 'not-a-jwt', 42]) {
      const refused = await register(broker, { ...NATIVE, software_statement: statement }, token);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe('invalid_software_statement');
    }
  });
});

describe('registration left at its defaults', () => {
  it('is off: no registration endpoint advertised, /reg registers nothing with or without an initial access token', async () => {
    const broker = await startBroker();
    try {
      const discovery = (await (await fetch(`${broker.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      expect(discovery).not.toHaveProperty('registration_endpoint');
      const { token } = await new InitialAccessTokens(broker.store).create({ ttlSeconds: 600, maxUses: 0 });
      for (const bearer of [undefined, token]) {
        const response = await fetch(`${broker.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, body: JSON.stringify(NATIVE) });
        await response.arrayBuffer();
        expect(response.status).toBe(404);
      }
      expect(broker.audit.filter((event) => event.event === 'client.registered')).toEqual([]);
    } finally {
      await broker.close();
    }
  });
});

describe('open registration for agents', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker({ config: registrationConfig({ enabled: false, open: true, openClientUnusedSeconds: 3600 }) });
  });
  afterAll(() => broker.close());

  it('registers a public client without a token (native when every redirect is loopback) that expires when unused', async () => {
    const created = await register(broker, { redirect_uris: ['http://localhost:33418/callback'], scope: 'mcp:tools mcp:read' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ token_endpoint_auth_method: 'none', application_type: 'native', redirect_uris: ['http://localhost:33418/callback'] });
    expect(created.body).not.toHaveProperty('client_secret');
    const ttl = await broker.store.ttl(`oidc:{oidc}:Client:${String(created.body.client_id)}`);
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000 + 1000);
  });

  it('refuses a confidential client and an https-less web redirect', async () => {
    const confidential = await register(broker, { ...NATIVE, token_endpoint_auth_method: 'client_secret_basic' });
    expect(confidential.status).toBe(400);
    expect(confidential.body.error).toBe('invalid_client_metadata');
    const http = await register(broker, { redirect_uris: ['http://agent.example.com/cb'] });
    expect(http.body.error).toBe('invalid_redirect_uri');
  });

  it('is rate-limited per IP', async () => {
    const limited = await startBroker({ config: { ...registrationConfig({ enabled: false, open: true }), rateLimits: { routes: { registration: { perIp: { burst: 2, perSecond: 0.001 } } } } } });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await register(limited, NATIVE)).status);
      expect(statuses).toEqual([201, 201, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('a registered client on a second instance sharing Redis', () => {
  let store: KeyValueStore | undefined;
  let first: TestBroker | undefined;
  let second: TestBroker | undefined;
  afterEach(async () => {
    await first?.close();
    await second?.close();
    await closeTestStore(store);
  });

  it('signs in through the other instance with the client registered on the first', async () => {
    store = await openRedisStore();
    first = await startBroker({ config: registrationConfig(), store });
    second = await startBroker({ config: registrationConfig(), store });
    const { token } = await new InitialAccessTokens(store).create({ ttlSeconds: 600, maxUses: 1 });
    const created = await register(first, { ...NATIVE, scope: 'openid profile email' }, token);
    expect(created.status).toBe(201);
    const client = { clientId: String(created.body.client_id), clientSecret: String(created.body.client_secret), redirectUri: NATIVE.redirect_uris[0]! };
    const { tokens } = await loginAndExchange(second.issuer, { client, params: { scope: 'openid email' } });
    expect(tokens.claims()?.aud).toBe(client.clientId);
    expect(tokens.claims()?.iss).toBe(second.issuer);
  });
});
