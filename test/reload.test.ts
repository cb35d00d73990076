// SIGHUP reloads a changed configuration file in place; an invalid one, or a change that needs a restart, keeps the running one.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from './helpers/upstream-oidc.js';

const dir = mkdtempSync(join(tmpdir(), 'vestibule-reload-'));
const file = join(dir, 'config.json');
const client = (clientId: string) => ({ clientId, public: true, redirectUris: [`https://${clientId}.example.com/cb`], skipConsent: true });
let child: ChildProcess;
let output = '';
let base: string;

const writeConfig = (config: Record<string, unknown>) => writeFileSync(file, JSON.stringify({ providersDir: 'none', ...config }));

async function waitFor(text: string, from: number): Promise<void> {
  const started = Date.now();
  while (!output.slice(from).includes(text)) {
    if (Date.now() - started > 20_000) throw new Error(`no "${text}" in: ${output.slice(from)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What /auth answers for this client: a redirect to the login (known client) or an error page (unknown). */
async function authorize(clientId: string): Promise<number> {
  const url = new URL(`${base}/auth`);
  Object.entries({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: `https://${clientId}.example.com/cb`, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).forEach(([k, v]) => url.searchParams.set(k, v));
  return (await fetch(url, { redirect: 'manual' })).status;
}

beforeAll(async () => {
  const port = await freeLoopbackPort();
  base = `http://127.0.0.1:${port}`;
  writeConfig({ issuer: base, clients: [client('first')] });
  const env: NodeJS.ProcessEnv = { ...process.env, BROKER_CONFIG: file, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', AUDIT_LOG: 'off', NODE_ENV: 'development' };
  delete env.REDIS_URL;
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor('vestibule listening', 0);
}, 60_000);

afterAll(() => {
  child?.kill('SIGTERM');
});

describe('SIGHUP', () => {
  it('applies a new client without a restart', async () => {
    expect(await authorize('first')).toBe(303);
    expect(await authorize('second')).toBe(400);
    writeConfig({ issuer: base, clients: [client('first'), client('second')] });
    const mark = output.length;
    child.kill('SIGHUP');
    await waitFor('configuration reloaded', mark);
    expect(await authorize('second')).toBe(303);
  });

  it('keeps the running configuration when the new one is invalid', async () => {
    writeConfig({ issuer: base, clients: [client('first'), { clientId: 'broken' }] });
    const mark = output.length;
    child.kill('SIGHUP');
    await waitFor('keeping the running one', mark);
    expect(output.slice(mark)).toContain('clients[1].redirectUris');
    expect(await authorize('second')).toBe(303);
  });

  it('refuses to change settings that need a restart', async () => {
    writeConfig({ issuer: 'http://127.0.0.1:1', clients: [client('first')] });
    const mark = output.length;
    child.kill('SIGHUP');
    await waitFor('need a restart', mark);
    expect(await authorize('second')).toBe(303);
    expect(child.exitCode).toBeNull();
  });
});
