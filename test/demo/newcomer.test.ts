// The newcomer check: `npm start` with no configuration serves the demo app, its printed demo account signs in, and its MCP-style resources take an agent's tokens.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, forms } from '../helpers/browser.js';
import { completeLogin } from '../helpers/rp.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

let child: ChildProcess;
let output = '';
let base: string;

beforeAll(async () => {
  const port = await freePort();
  base = `http://localhost:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), NODE_ENV: 'development', LOG_LEVEL: 'warn', AUDIT_LOG: 'off' };
  for (const name of ['BROKER_CONFIG', 'REDIS_URL', 'ISSUER', 'DEMO']) delete env[name];
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const started = Date.now();
  while (!output.includes('Demo accounts')) {
    if (child.exitCode !== null) throw new Error(`broker exited: ${output}`);
    if (Date.now() - started > 40_000) throw new Error(`broker did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});

describe('development mode', () => {
  it('prints the demo app URL, generated demo accounts, the sample upstreams and the MCP-style resources, and warns about development defaults', () => {
    expect(output).toContain(`${base}/demo`);
    expect(output).toContain('Demo OIDC IdP');
    expect(output).toContain('Demo SAML IdP');
    expect(output).toMatch(/alice\s+\S{8,}/);
    expect(output).toContain('development default in use');
    expect(output).toMatch(/Demo files\s+http:\/\/127\.0\.0\.1:\d+\/mcp\s+http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp/);
    expect(output).toMatch(/Demo calendar\s+http:\/\/127\.0\.0\.1:\d+\/mcp/);
  });

  it('signs a demo user in through the broker and shows the ID token claims', async () => {
    const password = /alice\s+(\S+)/.exec(output)![1]!;
    const browser = new Browser();
    const home = await browser.request(`${base}/demo`);
    expect(home.status).toBe(200);
    let page = await browser.follow(`${base}/demo/login`);
    if (forms(page).some((f) => f.action.endsWith('/choose'))) page = await browser.submit(page, '/choose', { connector: 'local' });
    page = await browser.submit(page, '/login', { username: 'alice', password });
    if (forms(page).some((f) => f.action.endsWith('/consent'))) page = await browser.submit(page, '/consent', { decision: 'allow' });
    expect(page.url).toBe(`${base}/demo`);
    expect(page.body).toContain('alice@example.com');
    expect(page.body).toContain('urn:vestibule:acr:password');
  });

  it('signs a user in through the sample upstream OIDC provider (a federated login)', async () => {
    const browser = new Browser();
    let page = await browser.follow(`${base}/demo/login`);
    page = await browser.submit(page, '/choose', { connector: 'demo-oidc' });
    expect(page.url).not.toContain(base);
    page = await browser.submit(page, '/login', { username: 'alice', password: 'alice-password' });
    if (forms(page).some((f) => f.action.endsWith('/consent'))) page = await browser.submit(page, '/consent', { decision: 'allow' });
    expect(page.url).toBe(`${base}/demo`);
    expect(page.body).toContain('alice@demo.example');
    expect(page.body).toContain('demo:admins');
  });

  it('signs a user in through the sample SAML IdP', async () => {
    const browser = new Browser();
    let page = await browser.follow(`${base}/demo/login`);
    page = await browser.submit(page, '/choose', { connector: 'demo-saml' });
    // The AuthnRequest goes out (redirect or auto-POST); the IdP shows its login form.
    if (forms(page).some((f) => f.fields.SAMLRequest)) page = await browser.submit(page, '', {});
    page = await browser.submit(page, '/', { username: 'sam', password: 'sam-demo-password' });
    if (forms(page).some((f) => f.fields.SAMLResponse)) page = await browser.submit(page, '/callback/demo-saml', {});
    if (forms(page).some((f) => f.action.endsWith('/consent'))) page = await browser.submit(page, '/consent', { decision: 'allow' });
    expect(page.url).toBe(`${base}/demo`);
    expect(page.body).toContain('sam@saml.demo');
  });

  it('runs two MCP-style resources: an openly registered agent gets a token the files resource takes, steps up for its write tool, and the calendar refuses it', async () => {
    const [, filesResource, filesMetadata] = /Demo files\s+(http\S+)\s+(http\S+)/.exec(output) ?? [];
    const [, calendarResource] = /Demo calendar\s+(http\S+)/.exec(output) ?? [];
    const challengeOf = (response: Response) => Object.fromEntries([...(response.headers.get('www-authenticate') ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const first = await fetch(filesResource!);
    expect(first.status).toBe(401);
    const challenge = challengeOf(first);
    expect(challenge.resource_metadata).toBe(filesMetadata);
    const metadata = (await (await fetch(challenge.resource_metadata!)).json()) as { resource: string; authorization_servers: string[]; scopes_supported: string[] };
    expect(metadata.authorization_servers).toEqual([base]);
    const as = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(as.client_id_metadata_document_supported).toBe(true);

    // Open registration, as an off-the-shelf MCP client does it: no initial access token, a loopback redirect, the resource's scopes_supported.
    const redirectUri = 'http://127.0.0.1:1/agent-cb';
    const registration = await fetch(String(as.registration_endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Demo agent', redirect_uris: [redirectUri], scope: metadata.scopes_supported.join(' ') }),
    });
    const client = (await registration.json()) as { client_id: string };
    expect(registration.status, JSON.stringify(client)).toBe(201);
    expect(client).toMatchObject({ token_endpoint_auth_method: 'none', application_type: 'native' });

    const password = /alice\s+(\S+)/.exec(output)![1]!;
    const browser = new Browser();
    const tokenFor = async (scope: string) => {
      const verifier = randomBytes(32).toString('base64url');
      const query = new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, scope, resource: metadata.resource, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' });
      const start = await browser.follow(`${String(as.authorization_endpoint)}?${query}`, {}, redirectUri);
      const callback = await completeLogin(browser, start, redirectUri, { connector: 'local', username: 'alice', password });
      const response = await fetch(String(as.token_endpoint), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: redirectUri, client_id: client.client_id, code_verifier: verifier, resource: metadata.resource }),
      });
      const tokens = (await response.json()) as { access_token: string };
      expect(response.status, JSON.stringify(tokens)).toBe(200);
      return tokens.access_token;
    };
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

    const token = await tokenFor(challenge.scope!);
    expect((await fetch(filesResource!, bearer(token))).status).toBe(200);
    const refused = await fetch(calendarResource!, bearer(token));
    expect(refused.status).toBe(401);
    expect(challengeOf(refused).error).toBe('invalid_token');
    const write = await fetch(`${filesResource}/write`, bearer(token));
    expect(write.status).toBe(403);
    const stepUp = challengeOf(write);
    expect(stepUp).toMatchObject({ error: 'insufficient_scope', scope: 'files:read files:write' });
    // The step-up asks for a scope the agent registered (scopes_supported lists it): the same browser consents to it.
    const stronger = await tokenFor(stepUp.scope!);
    expect((await fetch(`${filesResource}/write`, bearer(stronger))).status).toBe(200);
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
