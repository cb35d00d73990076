// config.reloaded is audited: a successful reload starts the new app's chain with it, a refused one is recorded as a failure on the running chain.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { reloadConfig, type Running } from '../../src/reload.js';
import { MemoryStore } from '../../src/store/memory.js';
import { auditVerifyCli } from './helpers.js';

const logger = pino({ level: 'silent' });
const client = (clientId: string) => ({ clientId, public: true, redirectUris: [`https://${clientId}.example.com/cb`], skipConsent: true });

describe('config.reloaded', () => {
  it('is audited on success (new chain, naming the previous one) and on refusal (invalid file, restart needed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-audit-reload-'));
    const file = join(dir, 'config.json');
    const auditFile = join(dir, 'audit.jsonl');
    const write = (extra: Record<string, unknown>) =>
      writeFileSync(file, JSON.stringify({ issuer: 'http://127.0.0.1:4999', port: 4999, providersDir: 'none', logLevel: 'silent', audit: { stdout: false, instance: 'sso-r', file: { path: 'audit.jsonl' } }, ...extra }));
    const env = { BROKER_CONFIG: file };
    write({ clients: [client('first')] });
    const store = new MemoryStore();
    const config = await loadConfig({ env });
    let running: Running = { config, broker: await buildApp(config, { logger, store }) };
    const firstChain = running.broker.broker.auditor.instance;

    write({ clients: [client('first'), client('second')] });
    const next = await reloadConfig(running, env, store, logger);
    expect(next).toBeDefined();
    // The caller closes the previous app (main.ts does once its requests are answered).
    await running.broker.close();
    running = next!;
    write({ clients: [{ clientId: 'broken' }] });
    expect(await reloadConfig(running, env, store, logger)).toBeUndefined();
    write({ clients: [client('first')], issuer: 'http://127.0.0.1:5000' });
    expect(await reloadConfig(running, env, store, logger)).toBeUndefined();
    await running.broker.close();
    await store.close();

    const records = readFileSync(auditFile, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(records).toHaveLength(3);
    expect(records[0]).toMatchObject({ event: 'config.reloaded', outcome: 'success', seq: 0, details: { clients: 2, previousChain: firstChain } });
    expect(records[0].instance).not.toBe(firstChain);
    expect(records[0].instance).toMatch(/^sso-r\.[0-9a-f]{8}$/);
    expect(records[1]).toMatchObject({ event: 'config.reloaded', outcome: 'failure', reason: 'invalid_configuration', level: 'warn', seq: 1 });
    expect(records[1].details.problems).toBeGreaterThan(0);
    expect(records[2]).toMatchObject({ event: 'config.reloaded', outcome: 'failure', reason: 'restart_required', seq: 2, details: { settings: 'issuer' } });
    expect(auditVerifyCli([auditFile]).status).toBe(0);
  });
});
