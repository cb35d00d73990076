// The metrics section: off by default, loopback by default, a token on the main port in production, clear errors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configProblems } from '../helpers/config.js';

const TOKEN = 't'.repeat(40);

const load = (file: Record<string, unknown>, env: Record<string, string> = {}) => loadConfig({ env, file: { providersDir: 'test/fixtures/no-providers', ...file } });

const problems = (file: Record<string, unknown>, env: Record<string, string> = {}): Promise<string[]> => configProblems(() => load(file, env));

describe('metrics configuration', () => {
  it('is off by default, and when on listens on loopback port 9464', async () => {
    expect((await load({})).metrics).toEqual({ enabled: false, host: '127.0.0.1', port: 9464, onMainPort: false });
    expect((await load({}, { METRICS_ENABLED: 'true' })).metrics).toMatchObject({ enabled: true, host: '127.0.0.1', port: 9464 });
  });

  it('takes every setting from the environment, the token from METRICS_TOKEN_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-metrics-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    const config = await load({}, { METRICS_ENABLED: '1', METRICS_HOST: '10.0.0.5', METRICS_PORT: '9100', METRICS_ON_MAIN_PORT: 'false', METRICS_TOKEN_FILE: join(dir, 'token') });
    expect(config.metrics).toEqual({ enabled: true, host: '10.0.0.5', port: 9100, onMainPort: false, token: TOKEN });
  });

  it('resolves a "$ENV" token reference in the file', async () => {
    const config = await load({ metrics: { enabled: true, onMainPort: true, token: '$SCRAPE_TOKEN' } }, { SCRAPE_TOKEN: TOKEN });
    expect(config.metrics.token).toBe(TOKEN);
  });

  it('refuses the main port without a token in production', async () => {
    const list = await problems({ metrics: { enabled: true, onMainPort: true } }, { NODE_ENV: 'production' });
    expect(list).toContain('metrics.token: required when metrics.onMainPort is true and NODE_ENV=production (set METRICS_TOKEN or METRICS_TOKEN_FILE)');
  });

  it('warns about an open /metrics on the main port in development', async () => {
    const config = await load({ metrics: { enabled: true, onMainPort: true } });
    expect(config.warnings).toContain('metrics.onMainPort without metrics.token: /metrics is open to anyone who reaches the broker');
  });

  it('names bad values by their path', async () => {
    expect(await problems({ metrics: { enabled: true, token: 'short' } })).toEqual([expect.stringMatching(/^metrics\.token: .*at least 32 characters/)]);
    expect(await problems({ metrics: { enabled: 'yes' } })).toEqual([expect.stringMatching(/^metrics\.enabled: /)]);
    expect(await problems({ metrics: { port: 70000 } })).toEqual([expect.stringMatching(/^metrics\.port: /)]);
    expect(await problems({ metrics: { listen: 'public' } })).toEqual([expect.stringMatching(/^metrics: .*listen/)]);
    expect(await problems({}, { METRICS_PORT: 'nine' })).toEqual(['METRICS_PORT: must be a whole number, got "nine"']);
    expect(await problems({}, { METRICS_ENABLED: 'maybe' })).toEqual(['METRICS_ENABLED: must be true or false']);
    expect(await problems({}, { METRICS_TOKEN_FILE: '/nonexistent/token' })).toEqual([expect.stringMatching(/^METRICS_TOKEN: METRICS_TOKEN_FILE=\/nonexistent\/token cannot be read: ENOENT/)]);
  });

  it('refuses a separate listener on the main port', async () => {
    expect(await problems({ port: 9464, metrics: { enabled: true } })).toEqual(['metrics.port: must differ from port (9464), or set metrics.onMainPort']);
  });
});
