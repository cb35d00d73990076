// Client ID Metadata Documents cannot be turned against the broker's network: http, private/loopback/link-local addresses, hosts outside allowedHosts, redirects, oversized and slow documents are refused, proven by loopback listeners that must not be hit; Cache-Control is honoured; off by default.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { json, startDocumentHost, testResolver, type DocumentHost } from '../helpers/document-host.js';
import { testCertificate, type TestCertificate } from '../helpers/tls.js';

const REDIRECT = 'http://127.0.0.1:1/agent-cb';
const CHALLENGE = createHash('sha256').update('v'.repeat(43)).digest('base64url');

async function authorize(broker: TestBroker, clientId: string, redirectUri = REDIRECT) {
  const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'openid', code_challenge: CHALLENGE, code_challenge_method: 'S256' });
  const response = await fetch(`${broker.issuer}/auth?${query}`, { redirect: 'manual' });
  await response.arrayBuffer();
  return response;
}

/** A document naming itself, a public client with the test redirect URI. */
const documentFor = (clientId: string, extra: Record<string, unknown> = {}) => ({ client_id: clientId, client_name: 'Agent', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', ...extra });

describe('Client ID Metadata Document fetches', () => {
  let certificate: TestCertificate;
  /** The listener that must never be reached by a refused fetch. */
  let forbidden: DocumentHost;
  /** A second one, target of redirects. */
  let internal: DocumentHost;
  const resolver = testResolver({ 'agent.test': '127.0.0.1', 'internal.test': '127.0.0.1', 'private.test': '10.1.2.3', 'cloud-metadata.test': '169.254.169.254', 'mapped.test': '::ffff:127.0.0.1', 'ula.test': 'fd00::1' });
  let strict: TestBroker;
  let loopbackAllowed: TestBroker;
  /** Metadata documents left at their default: off. */
  let off: TestBroker;

  beforeAll(async () => {
    certificate = testCertificate(['agent.test', 'internal.test']);
    forbidden = await startDocumentHost(certificate);
    internal = await startDocumentHost(certificate);
    for (const host of [forbidden, internal]) {
      host.routes.set('/doc', (req, res) => {
        const self = `https://${req.headers.host}/doc`;
        json(documentFor(self))(req, res);
      });
    }
    const outbound = { outboundResolver: resolver, outboundCa: certificate.ca };
    strict = await startBroker({ config: { authorizationServer: { clientIdMetadataDocument: { enabled: true } } }, outbound });
    loopbackAllowed = await startBroker({ config: { authorizationServer: { clientIdMetadataDocument: { enabled: true, allowedAddresses: ['loopback'], allowedHosts: ['agent.test'], maxBytes: 1024, timeoutMs: 300, cacheMinSeconds: 0 } } }, outbound });
    off = await startBroker({ outbound });
  });
  afterAll(async () => {
    await Promise.all([strict?.close(), loopbackAllowed?.close(), off?.close()]);
    await Promise.all([forbidden?.close(), internal?.close()]);
  });

  it.each([
    ['a host name resolving to loopback', (port: number) => `https://agent.test:${port}/doc`],
    ['a loopback IP literal', (port: number) => `https://127.0.0.1:${port}/doc`],
    ['an IPv4-mapped IPv6 loopback', (port: number) => `https://mapped.test:${port}/doc`],
    ['an http URL', (port: number) => `http://agent.test:${port}/doc`],
    ['a private address', (port: number) => `https://private.test:${port}/doc`],
    ['a unique-local IPv6 address', (port: number) => `https://ula.test:${port}/doc`],
    ['a link-local (cloud metadata) address', (port: number) => `https://cloud-metadata.test:${port}/doc`],
  ])('refuses %s without reaching it', async (_name, url) => {
    const before = forbidden.hits.length;
    const response = await authorize(strict, url(forbidden.port));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(forbidden.hits.length).toBe(before);
  });

  it('audits the refusal with its reason', async () => {
    await authorize(strict, `https://private.test:${forbidden.port}/doc`);
    const event = strict.audit.filter((record) => record.event === 'client.metadata_document').at(-1);
    expect(event).toMatchObject({ outcome: 'failure', clientId: `https://private.test:${forbidden.port}/doc` });
    expect(event?.reason).toMatch(/private address/);
  });

  it('fetches a document from loopback only where configured, and uses it', async () => {
    const response = await authorize(loopbackAllowed, `https://agent.test:${forbidden.port}/doc`);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toMatch(/\/interaction\//);
  });

  it('fetches nothing from a host outside allowedHosts, even at an allowed address', async () => {
    const before = internal.hits.length;
    const response = await authorize(loopbackAllowed, `https://internal.test:${internal.port}/doc`);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(internal.hits.length).toBe(before);
  });

  it('fetches a new document once when two authorizations for it arrive at the same moment', async () => {
    forbidden.routes.set('/together', (req, res) => void setTimeout(() => json(documentFor(`https://agent.test:${forbidden.port}/together`))(req, res), 100));
    const id = `https://agent.test:${forbidden.port}/together`;
    const [first, second] = await Promise.all([authorize(loopbackAllowed, id), authorize(loopbackAllowed, id)]);
    expect([first.status, second.status]).toEqual([303, 303]);
    expect(forbidden.hits.filter((path) => path === '/together')).toHaveLength(1);
  });

  it('honours the document\'s Cache-Control max-age: fetched once while fresh, again once it has expired', async () => {
    const id = `https://agent.test:${forbidden.port}/cached`;
    forbidden.routes.set('/cached', json(documentFor(id), { 'cache-control': 'max-age=1' }));
    const fetches = () => forbidden.hits.filter((path) => path === '/cached').length;
    expect((await authorize(loopbackAllowed, id)).status).toBe(303);
    expect((await authorize(loopbackAllowed, id)).status).toBe(303);
    expect(fetches()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await authorize(loopbackAllowed, id)).status).toBe(303);
    expect(fetches()).toBe(2);
  });

  it('fetches nothing when metadata documents are off (the default): an https client_id is an unknown client', async () => {
    const before = forbidden.hits.length;
    const response = await authorize(off, `https://agent.test:${forbidden.port}/doc`);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(forbidden.hits.length).toBe(before);
    const discovery = (await (await fetch(`${off.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(discovery).not.toHaveProperty('client_id_metadata_document_supported');
  });

  it('does not follow a redirect, not even to an allowed address', async () => {
    forbidden.routes.set('/moved', (_req, res) => {
      res.writeHead(302, { location: `https://internal.test:${internal.port}/doc` }).end();
    });
    const before = internal.hits.length;
    const response = await authorize(loopbackAllowed, `https://agent.test:${forbidden.port}/moved`);
    expect(response.status).toBe(400);
    expect(internal.hits.length).toBe(before);
  });

  it.each([
    ['oversized', (id: string) => json(documentFor(id, { client_name: 'x'.repeat(2000) }))],
    ['slow', (id: string) => (req: Parameters<ReturnType<typeof json>>[0], res: Parameters<ReturnType<typeof json>>[1]) => void setTimeout(() => json(documentFor(id))(req, res), 2000).unref()],
    ['naming another client_id', () => json(documentFor('https://other.test/doc'))],
    ['carrying a client secret', (id: string) => json(documentFor(id, { client_secret: 's'.repeat(40), token_endpoint_auth_method: 'client_secret_basic' }))],
    ['registering an http redirect to a public host', (id: string) => json(documentFor(id, { redirect_uris: ['http://agent.example.com/cb'] }))],
    ['not JSON', () => (_req: unknown, res: { writeHead(status: number, headers: Record<string, string>): { end(body: string): void } }) => res.writeHead(200, { 'content-type': 'application/json' }).end('<html>')],
  ])('refuses a document that is %s', async (name, route) => {
    const path = `/bad-${name.replace(/\W+/g, '-')}`;
    const id = `https://agent.test:${forbidden.port}${path}`;
    forbidden.routes.set(path, route(id) as never);
    const response = await authorize(loopbackAllowed, id, REDIRECT);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('refuses a redirect_uri the document does not list', async () => {
    const response = await authorize(loopbackAllowed, `https://agent.test:${forbidden.port}/doc`, 'http://127.0.0.1:1/not-listed');
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('never asked the resolver about a name it was not given, and no test traffic left loopback', () => {
    expect(resolver.asked.every((name) => name.endsWith('.test'))).toBe(true);
  });
});
