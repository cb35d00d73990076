// The `audit` settings: defaults, the older auditLog mapped onto them (or refused next to them), Redis URL, webhook https-only.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configProblems } from '../helpers/config.js';

const load = (file: Record<string, unknown>, env: Record<string, string> = {}) => loadConfig({ env, cwd: '/srv/sso', file: { providersDir: 'none', ...file } });

const problems = (file: Record<string, unknown>, env: Record<string, string> = {}): Promise<string[]> => configProblems(() => load(file, env));

const webhook = { url: 'https://siem.example.com/hook', secret: 'a-webhook-secret-0123456789abcdefghijkl' };

describe('audit configuration', () => {
  it('defaults to stdout only, the instance named after the host', async () => {
    const { audit } = await load({});
    expect(audit).toMatchObject({ stdout: true, instance: hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) });
    expect(audit.file).toBeUndefined();
    expect(audit.redis).toBeUndefined();
    expect(audit.webhook).toBeUndefined();
  });

  it('keeps auditLog working: a path becomes a rotating file (relative to the configuration), "off" turns stdout off', async () => {
    const { audit } = await load({ auditLog: 'logs/audit.jsonl' });
    expect(audit).toMatchObject({ stdout: false, file: { path: join('/srv/sso', 'logs/audit.jsonl'), maxBytes: 100 * 1024 * 1024, daily: true } });
    expect((await load({ auditLog: 'off' })).audit.stdout).toBe(false);
    expect((await load({}, { AUDIT_LOG: 'off' })).audit.stdout).toBe(false);
    expect((await load({ auditLog: 'off', audit: { webhook } })).audit).toMatchObject({ stdout: false, webhook: { minLevel: 'warn' } });
  });

  it('refuses auditLog (or AUDIT_LOG) next to audit.stdout / audit.file, saying what to do', async () => {
    expect(await problems({ auditLog: 'a.jsonl', audit: { file: { path: 'b.jsonl' } } })).toContain('auditLog: replaced by audit.stdout and audit.file; remove auditLog (or AUDIT_LOG) and set those instead');
    expect((await problems({ audit: { stdout: false } }, { AUDIT_LOG: 'stdout' }))[0]).toMatch(/^auditLog: replaced by/);
  });

  it('resolves audit.file.path against the configuration directory and takes AUDIT_INSTANCE', async () => {
    const { audit } = await load({ audit: { stdout: false, file: { path: 'audit.jsonl', maxBytes: 4096, daily: false } } }, { AUDIT_INSTANCE: 'sso-2' });
    expect(audit).toMatchObject({ instance: 'sso-2', file: { path: '/srv/sso/audit.jsonl', maxBytes: 4096, daily: false } });
    expect((await problems({ audit: { instance: 'has space' } }))[0]).toMatch(/^audit\.instance:/);
  });

  it('takes the Redis stream URL from the store, and asks for one without a Redis store', async () => {
    const { audit } = await load({ store: { type: 'redis', url: 'redis://redis.internal:6379' }, audit: { redis: {} } });
    expect(audit.redis).toEqual({ url: 'redis://redis.internal:6379', stream: 'vestibule:audit', maxLen: 1_000_000 });
    expect(await problems({ audit: { redis: { stream: 'a' } } })).toContain('audit.redis.url: required when the store is not a Redis URL');
  });

  it('webhook: https only (http only to loopback with allowLoopbackHttp), a 32+ character secret, bounded settings', async () => {
    expect((await load({ audit: { webhook } })).audit.webhook).toMatchObject({ minLevel: 'warn', timeoutMs: 5000, maxAttempts: 6, maxQueue: 1000, maxBodyBytes: 65536 });
    expect(await problems({ audit: { webhook: { ...webhook, url: 'http://siem.example.com/hook' } } })).toContain('audit.webhook.url: must be https');
    expect(await problems({ audit: { webhook: { ...webhook, url: 'http://127.0.0.1:9/hook' } } })).toContain('audit.webhook.url: must be https');
    expect(await problems({ audit: { webhook: { ...webhook, url: 'http://siem.example.com/hook', allowLoopbackHttp: true } } })).toContain('audit.webhook.url: must be https, or http to a loopback address');
    expect((await load({ audit: { webhook: { ...webhook, url: 'http://127.0.0.1:9/hook', allowLoopbackHttp: true } } })).audit.webhook?.url).toBe('http://127.0.0.1:9/hook');
    expect((await problems({ audit: { webhook: { ...webhook, secret: 'short' } } }))[0]).toMatch(/^audit\.webhook\.secret: must be at least 32 characters/);
    expect((await problems({ audit: { webhook: { ...webhook, url: 'ftp://x' } } }))[0]).toMatch(/^audit\.webhook\.url:/);
    expect((await problems({ audit: { webhook: { ...webhook, maxQueue: 0 } } }))[0]).toMatch(/^audit\.webhook\.maxQueue:/);
  });
});
