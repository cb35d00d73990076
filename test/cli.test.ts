// The command-line tools: check-config fails with every problem, hash-password makes a verifiable argon2id hash, generate-jwks a usable JWKS, config-schema the published schemas.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import argon2 from 'argon2';
import { describe, expect, it } from 'vitest';
import { readJwksFile } from '../src/issuer/keys.js';

/** tsx's loader and the CLI by absolute location, so a command can run in another working directory. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const CLI = resolve('src/cli.ts');

function cli(args: string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}) {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  if (!options.env?.BROKER_CONFIG) delete env.BROKER_CONFIG;
  return spawnSync(process.execPath, ['--import', TSX, CLI, ...args], { env, input: options.input ?? '', encoding: 'utf8', timeout: 30_000, ...(options.cwd ? { cwd: options.cwd } : {}) });
}

describe('vestibule CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vestibule-cli-'));

  it('check-config exits non-zero and lists every problem with its path', () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ issuer: 'nope', clients: [{ clientId: 'a', redirectUris: ['x'] }], providersDir: 'none' }));
    const result = cli(['check-config'], { env: { BROKER_CONFIG: join(dir, 'bad.json') } });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('issuer:');
    expect(result.stderr).toContain('clients[0].redirectUris[0]:');
    expect(result.stderr).toContain('clients[0].clientSecret:');
  });

  it('check-config accepts a good configuration and says what it found', () => {
    writeFileSync(join(dir, 'good.json'), JSON.stringify({ issuer: 'https://sso.example.com', clients: [{ clientId: 'a', public: true, redirectUris: ['https://a.example.com/cb'] }], providersDir: 'none' }));
    const result = cli(['check-config'], { env: { BROKER_CONFIG: join(dir, 'good.json') } });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('configuration OK');
    expect(result.stdout).toContain('1 client(s)');
  });

  it('hash-password reads the password from stdin and prints an argon2id hash of it', async () => {
    const result = cli(['hash-password'], { input: 'a long enough password\n' });
    expect(result.status).toBe(0);
    const hash = result.stdout.trim();
    expect(hash.startsWith('$argon2id$')).toBe(true);
    expect(await argon2.verify(hash, 'a long enough password')).toBe(true);
    expect(result.stdout).not.toContain('a long enough password');
  });

  it('hash-password refuses a short password', () => {
    expect(cli(['hash-password'], { input: 'short' }).status).toBe(1);
  });

  it('generate-jwks prints a private JWKS that the broker accepts as jwksFile', () => {
    const result = cli(['generate-jwks']);
    expect(result.status).toBe(0);
    writeFileSync(join(dir, 'jwks.json'), result.stdout);
    const keys = readJwksFile(join(dir, 'jwks.json'));
    expect(keys.map((k) => k.alg)).toEqual(['ES256', 'RS256']);
  });

  it('config-schema writes both JSON Schemas into schemas/ of the working directory, as the published ones', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'vestibule-schema-'));
    const result = cli(['config-schema', '--json'], { cwd });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ wrote: ['schemas/config.schema.json', 'schemas/provider.schema.json'] });
    for (const file of ['config.schema.json', 'provider.schema.json']) {
      expect(JSON.parse(readFileSync(join(cwd, 'schemas', file), 'utf8')), file).toEqual(JSON.parse(readFileSync(join('schemas', file), 'utf8')));
    }
  });

  it('an unknown command prints usage and exits 2', () => {
    const result = cli(['frobnicate']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage:');
  });
});
