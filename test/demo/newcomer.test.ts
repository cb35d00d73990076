// The newcomer check: `npm start` with no configuration serves the demo app, and its printed demo account signs in.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, forms } from '../helpers/browser.js';

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
  it('prints the demo app URL, generated demo accounts and the sample upstreams, and warns about development defaults', () => {
    expect(output).toContain(`${base}/demo`);
    expect(output).toContain('Demo OIDC IdP');
    expect(output).toContain('Demo SAML IdP');
    expect(output).toMatch(/alice\s+\S{8,}/);
    expect(output).toContain('development default in use');
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

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
