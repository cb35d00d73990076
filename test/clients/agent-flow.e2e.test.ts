// The agent flow the MCP authorization spec describes, end to end over real HTTP: resource metadata (RFC 9728), AS metadata (RFC 8414), a Client ID Metadata Document, code + PKCE + resource (RFC 8707), a JWT access token (RFC 9068) one resource accepts and the other refuses.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoResource, type DemoResource } from '../../src/demo/resource-server.js';
import { Browser } from '../helpers/browser.js';
import { startBroker, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { startDocumentHost, json, testResolver, type DocumentHost } from '../helpers/document-host.js';
import { completeLogin } from '../helpers/rp.js';
import { testCertificate } from '../helpers/tls.js';

const REDIRECT = 'http://127.0.0.1:1/agent-cb';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The parameters of a `WWW-Authenticate: Bearer k="v", …` challenge. */
function challenge(header: string | null): Record<string, string> {
  return Object.fromEntries([...(header ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]));
}

describe('an MCP-style agent with a Client ID Metadata Document', () => {
  let broker: TestBroker;
  let host: DocumentHost;
  let resourceA: DemoResource;
  let resourceB: DemoResource;
  let clientId: string;

  beforeAll(async () => {
    const certificate = testCertificate(['agent.test']);
    host = await startDocumentHost(certificate);
    clientId = `https://agent.test:${host.port}/oauth/client.json`;
    host.routes.set('/oauth/client.json', json({ client_id: clientId, client_name: 'Test Agent', client_uri: 'https://agent.test', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' }, { 'cache-control': 'max-age=600' }));
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    resourceA = await startDemoResource({ name: 'Files', issuer, scopes: ['files:read'], writeScope: 'files:write' });
    resourceB = await startDemoResource({ name: 'Calendar', issuer, scopes: ['calendar:read'] });
    broker = await startBroker({
      port,
      config: {
        authorizationServer: {
          clientIdMetadataDocument: { enabled: true, allowedAddresses: ['loopback'] },
          resourceServers: [
            { identifier: resourceA.resource, scopes: ['files:read', 'files:write'], accessTokenTtl: 300 },
            { identifier: resourceB.resource, scopes: ['calendar:read'] },
          ],
        },
      },
      outbound: { outboundResolver: testResolver({ 'agent.test': '127.0.0.1' }), outboundCa: certificate.ca },
    });
  });
  afterAll(async () => {
    await broker?.close();
    await Promise.all([host?.close(), resourceA?.close(), resourceB?.close()]);
  });

  it('discovers, signs in, gets an audience-restricted JWT accepted by its resource and refused by the other', async () => {
    // 1. The resource refuses and names its metadata.
    const first = await fetch(resourceA.resource);
    expect(first.status).toBe(401);
    const { resource_metadata: metadataUrl, scope: challengedScope } = challenge(first.headers.get('www-authenticate'));
    expect(metadataUrl).toBe(resourceA.metadataUrl);
    const resourceMetadata = (await (await fetch(metadataUrl!)).json()) as { resource: string; authorization_servers: string[]; scopes_supported: string[] };
    expect(resourceMetadata.resource).toBe(resourceA.resource);
    // Every scope is published (a client registers them all); the challenge names what a first call needs.
    expect(resourceMetadata.scopes_supported).toEqual(['files:read', 'files:write']);
    expect(challengedScope).toBe('files:read');

    // 2. The authorization server's RFC 8414 metadata says metadata documents are supported (the boolean true).
    const as = resourceMetadata.authorization_servers[0]!;
    const asMetadata = (await (await fetch(`${as}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(asMetadata.client_id_metadata_document_supported).toBe(true);
    expect(asMetadata.code_challenge_methods_supported).toContain('S256');

    // 3. Code flow with PKCE and the resource, the client_id being the document's URL.
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const authorization = new URL(String(asMetadata.authorization_endpoint));
    authorization.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      // The MCP scope selection: the 401 challenge's scope first, scopes_supported only when it names none.
      scope: challengedScope!,
      resource: resourceMetadata.resource,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state,
    }).toString();
    const browser = new Browser();
    const loginPage = await browser.follow(authorization.href, {}, REDIRECT);
    const consentPage = await browser.submit(loginPage, '/login', { username: TEST_USER.username, password: TEST_USER.password }, REDIRECT);
    // The consent page names the host that served the agent's document, the name the document states (marked as the
    // application's own words) and the host of its client_uri (the same site: no warning).
    expect(consentPage.body).toContain(`<strong>Test Agent</strong> <span class="muted">(agent.test:${host.port})</span>`);
    expect(consentPage.body).toContain(`The application gave this name itself; agent.test:${host.port} is the address it was checked against.`);
    expect(consentPage.body).toContain('Its website: <strong>agent.test</strong></p>');
    expect(consentPage.body).not.toContain('not the address above');
    const callback = await completeLogin(browser, consentPage, REDIRECT);
    expect(callback.searchParams.get('state')).toBe(state);

    const tokenResponse = await fetch(String(asMetadata.token_endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier, resource: resourceMetadata.resource }),
    });
    const tokens = (await tokenResponse.json()) as { access_token: string; token_type: string; scope: string };
    expect(tokenResponse.status, JSON.stringify(tokens)).toBe(200);
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe('at+jwt');
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ iss: broker.issuer, aud: resourceA.resource, client_id: clientId, scope: 'files:read' });
    expect(claims.exp! - claims.iat!).toBe(300);

    // 4. Resource A accepts it; its write tool wants a scope the token lacks (step-up); resource B refuses it.
    const accepted = await fetch(resourceA.resource, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({ subject: claims.sub, client: clientId });
    const write = await fetch(`${resourceA.resource}/write`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(write.status).toBe(403);
    expect(challenge(write.headers.get('www-authenticate'))).toMatchObject({ error: 'insufficient_scope', scope: 'files:read files:write' });
    const refused = await fetch(resourceB.resource, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(refused.status).toBe(401);
    expect(challenge(refused.headers.get('www-authenticate'))).toMatchObject({ error: 'invalid_token', resource_metadata: resourceB.metadataUrl });
    // The document was fetched once and cached (Cache-Control: max-age=600).
    expect(host.hits.filter((path) => path === '/oauth/client.json')).toHaveLength(1);
  });

  it('shows a stated name as text and warns when the stated website is another site than the document\'s host', async () => {
    const otherId = `https://agent.test:${host.port}/oauth/other.json`;
    host.routes.set('/oauth/other.json', json({ client_id: otherId, client_name: '<b>Your Bank</b>', client_uri: 'https://bank.example', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }));
    const query = new URLSearchParams({ response_type: 'code', client_id: otherId, redirect_uri: REDIRECT, scope: 'openid', code_challenge: createHash('sha256').update('v'.repeat(43)).digest('base64url'), code_challenge_method: 'S256' });
    const browser = new Browser();
    const loginPage = await browser.follow(`${broker.issuer}/auth?${query}`, {}, REDIRECT);
    const consentPage = await browser.submit(loginPage, '/login', { username: TEST_USER.username, password: TEST_USER.password }, REDIRECT);
    expect(consentPage.body).toContain(`<strong>&lt;b&gt;Your Bank&lt;/b&gt;</strong> <span class="muted">(agent.test:${host.port})</span>`);
    expect(consentPage.body).not.toContain('<b>Your Bank</b>');
    expect(consentPage.body).toContain('Its website: <strong>bank.example</strong> · not the address above: make sure you trust it.');
  });

  it('refuses a token for an unknown resource (invalid_target) and a redirect_uri the document does not list', async () => {
    const base = { response_type: 'code', client_id: clientId, code_challenge: createHash('sha256').update('v'.repeat(43)).digest('base64url'), code_challenge_method: 'S256', scope: 'files:read' };
    const unknown = await fetch(`${broker.issuer}/auth?${new URLSearchParams({ ...base, redirect_uri: REDIRECT, resource: 'https://elsewhere.test/mcp' })}`, { redirect: 'manual' });
    expect(unknown.status).toBe(303);
    expect(new URL(unknown.headers.get('location')!).searchParams.get('error')).toBe('invalid_target');
    const unlisted = await fetch(`${broker.issuer}/auth?${new URLSearchParams({ ...base, redirect_uri: 'http://127.0.0.1:1/other', resource: resourceA.resource })}`, { redirect: 'manual' });
    expect(unlisted.status).toBe(400);
    expect(unlisted.headers.get('location')).toBeNull();
  });
});
