// WATCH_CONFIG: a changed configuration or provider file is reloaded without a signal; providers added, renamed and removed take effect; a sign-in started before a reload finishes after it; a broken file under load is refused, logged and audited while every request is answered.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './helpers/browser.js';
import { localProvider, TEST_CLIENT } from './helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp } from './helpers/rp.js';
import { freeLoopbackPort } from './helpers/upstream-oidc.js';

const dir = mkdtempSync(join(tmpdir(), 'vestibule-watch-'));
const file = join(dir, 'config.json');
const providers = join(dir, 'providers');
mkdirSync(providers);
let child: ChildProcess;
let output = '';
let base: string;

const clients = (extra: unknown[] = []) => [
  { clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], skipConsent: true },
  ...extra,
];
// The load below comes from one address, faster than the default per-IP budget of /auth allows.
const writeConfig = (extra: Record<string, unknown> = {}) => writeFileSync(file, JSON.stringify({ issuer: base, providersDir: 'providers', clients: clients(), rateLimits: { enabled: false }, ...extra }));

async function waitFor(text: string, from: number): Promise<void> {
  const started = Date.now();
  while (!output.slice(from).includes(text)) {
    if (Date.now() - started > 20_000) throw new Error(`no "${text}" in: ${output.slice(from)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first page a new sign-in shows (the provider choice, or the login form when one provider is left). */
async function firstPage(): Promise<string> {
  const config = await discoverRp(base);
  const request = await authorizationRequest(config);
  return (await new Browser().follow(request.url.href, {}, TEST_CLIENT.redirectUri)).body;
}

beforeAll(async () => {
  const port = await freeLoopbackPort();
  base = `http://127.0.0.1:${port}`;
  writeFileSync(join(providers, 'local.json'), JSON.stringify(await localProvider('local')));
  writeConfig();
  const env: NodeJS.ProcessEnv = { ...process.env, BROKER_CONFIG: file, WATCH_CONFIG: 'true', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', AUDIT_LOG: 'stdout', NODE_ENV: 'development' };
  delete env.REDIS_URL;
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor('vestibule listening', 0);
}, 60_000);

afterAll(() => {
  child?.kill('SIGTERM');
});

describe('WATCH_CONFIG', () => {
  it('a sign-in started before a reload completes after it', async () => {
    const config = await discoverRp(base);
    const request = await authorizationRequest(config);
    const browser = new Browser();
    const loginForm = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    expect(loginForm.body).toContain('/login');
    const mark = output.length;
    writeConfig({ clients: clients([{ clientId: 'added', public: true, redirectUris: ['https://added.example.com/cb'] }]) });
    await waitFor('file watch: configuration reloaded', mark);
    const callback = await completeLogin(browser, loginForm, TEST_CLIENT.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
    expect(tokens.claims()?.email).toBe('alice@example.com');
  });

  it('providers added, renamed and removed take effect', async () => {
    let mark = output.length;
    writeFileSync(join(providers, 'other.json'), JSON.stringify({ ...(await localProvider('other', ['other.example.com'])), name: 'Other accounts' }));
    await waitFor('"providers":["local","other"]', mark);
    expect(await firstPage()).toContain('Other accounts');
    mark = output.length;
    writeFileSync(join(providers, 'other.json'), JSON.stringify({ ...(await localProvider('other', ['other.example.com'])), name: 'Renamed accounts' }));
    await waitFor('file watch: configuration reloaded', mark);
    const renamed = await firstPage();
    expect(renamed).toContain('Renamed accounts');
    expect(renamed).not.toContain('Other accounts');
    mark = output.length;
    rmSync(join(providers, 'other.json'));
    await waitFor('"providers":["local"]', mark);
    expect(await firstPage()).not.toContain('Renamed accounts');
  });

  it('a broken file under load is refused, logged and audited, and every request is answered by the running configuration', async () => {
    const statuses: number[] = [];
    let loading = true;
    const worker = async () => {
      while (loading) {
        const url = new URL(`${base}/auth`);
        Object.entries({ client_id: TEST_CLIENT.clientId, response_type: 'code', scope: 'openid', redirect_uri: TEST_CLIENT.redirectUri }).forEach(([k, v]) => url.searchParams.set(k, v));
        statuses.push((await fetch(url, { redirect: 'manual' })).status);
      }
    };
    const load = Promise.all(Array.from({ length: 4 }, worker));
    const mark = output.length;
    writeFileSync(file, '{"issuer": "' + base + '", "clients": [');
    await waitFor('file watch: the new configuration is invalid; keeping the running one', mark);
    await waitFor('"event":"config.reloaded"', mark);
    const before = statuses.length;
    while (statuses.length < before + 20) await new Promise((r) => setTimeout(r, 20));
    loading = false;
    await load;
    expect(output.slice(mark)).toContain('invalid JSON');
    expect(output.slice(mark)).toMatch(/"event":"config.reloaded"[^\n]*"outcome":"failure"/);
    expect(statuses.length).toBeGreaterThan(20);
    expect(new Set(statuses)).toEqual(new Set([303]));
    expect(child.exitCode).toBeNull();
    writeConfig();
  });
});
