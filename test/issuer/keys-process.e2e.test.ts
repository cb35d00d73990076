// The real entry point (src/main.ts) on Redis: `vestibule keys rotate` reaches the running broker, which publishes, activates and retires the keys without a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vestibule, json } from '../admin/cli.js';
import { flushPrefix, openRedisStore, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';

let child: ChildProcess;
let output = '';
let base: string;
let configFile: string;
const prefix = testPrefix('keys-process');

async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50));
}

const kids = async () => ((await (await fetch(`${base}/jwks`)).json()) as JSONWebKeySet).keys.map((key) => key.kid as string);

beforeAll(async () => {
  const port = await freeLoopbackPort();
  base = `http://127.0.0.1:${port}`;
  configFile = join(mkdtempSync(join(tmpdir(), 'vestibule-keys-')), 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      issuer: base,
      providersDir: 'none',
      vaultKeys: [randomBytes(32).toString('base64url')],
      store: { type: 'redis', url: REDIS_URL, prefix },
      tokens: { idTokenTtl: 2, accessTokenTtl: 2 },
      keys: { publishBeforeUseSeconds: 2, clockSkewSeconds: 1 },
      clients: [{ clientId: 'app', public: true, redirectUris: ['https://app.example.com/cb'], skipConsent: true }],
    }),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, BROKER_CONFIG: configFile, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', AUDIT_LOG: 'off', NODE_ENV: 'development' };
  delete env.REDIS_URL;
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await until(() => output.includes('vestibule listening'));
}, 60_000);

afterAll(async () => {
  child?.kill('SIGTERM');
  const store = await openRedisStore({ prefix });
  await flushPrefix(store);
  await store.close();
});

describe('a running broker process', () => {
  it('publishes the rotated keys at once, signs with them after publishBeforeUse, and drops the old ones after retention', async () => {
    const before = await kids();
    expect(before).toHaveLength(2);
    const listed = json<{ keys: { kid: string; state: string }[] }>(await vestibule(['keys', 'list', '--json'], configFile)).keys;
    expect(listed.map((key) => key.kid).sort()).toEqual([...before].sort());

    const rotated = await vestibule(['keys', 'rotate', '--json'], configFile);
    expect(rotated.status).toBe(0);
    const added = json<{ added: { kid: string }[] }>(rotated).added.map((key) => key.kid);
    await until(async () => (await kids()).length === 4);
    await until(async () => added.includes((await kids())[0]!));
    await until(async () => (await kids()).length === 2);
    expect((await kids()).sort()).toEqual([...added].sort());
    expect(output).toContain('signing keys: issuer refreshed');
    expect(output).not.toMatch(/"level":(50|60)/);
  });
});
