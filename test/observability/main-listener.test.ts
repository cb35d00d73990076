// The real entry point (src/main.ts): the separate metrics listener starts, survives a SIGHUP reload with its counters, and a taken port stops the start with a clear error.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';
import { sample, scrape } from './scrape.js';

const dir = mkdtempSync(join(tmpdir(), 'vestibule-metrics-main-'));
const file = join(dir, 'config.json');
const client = (clientId: string) => ({ clientId, public: true, redirectUris: [`https://${clientId}.example.com/cb`], skipConsent: true });
const writeConfig = (config: Record<string, unknown>) => writeFileSync(file, JSON.stringify({ providersDir: 'none', ...config }));

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startMain(env: Record<string, string>, configFile = file): Run {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, BROKER_CONFIG: configFile, HOST: '127.0.0.1', LOG_LEVEL: 'info', AUDIT_LOG: 'off', NODE_ENV: 'development', ...env };
  delete childEnv.REDIS_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output, exited: new Promise((resolve) => child.on('exit', resolve)) };
}

async function waitFor(run: Run, text: string, from = 0): Promise<void> {
  while (!run.output().slice(from).includes(text)) {
    if (run.child.exitCode !== null) throw new Error(`exited before "${text}": ${run.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let run: Run;
let base: string;
let metricsUrl: string;

beforeAll(async () => {
  const [port, metricsPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
  base = `http://127.0.0.1:${port}`;
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  writeConfig({ issuer: base, clients: [client('first')] });
  run = startMain({ PORT: String(port), METRICS_ENABLED: 'true', METRICS_PORT: String(metricsPort) });
  await waitFor(run, 'metrics listening at /metrics');
}, 60_000);

afterAll(() => {
  run?.child.kill('SIGTERM');
});

const badGrant = () => fetch(`${base}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&client_id=first' });
const refusals = async () => sample(await scrape(metricsUrl), 'vestibule_token_errors_total', { grant_type: 'other', reason: 'unsupported_grant_type' });

describe('main.ts with a separate metrics listener', () => {
  it('serves /metrics on its own port and not on the main one', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    const before = await refusals();
    expect((await badGrant()).status).toBe(400);
    expect(await refusals()).toBe(before + 1);
  });

  it('keeps serving, and counting on, after a SIGHUP reload', async () => {
    const before = await refusals();
    writeConfig({ issuer: base, clients: [client('first'), client('second')] });
    const mark = run.output().length;
    run.child.kill('SIGHUP');
    await waitFor(run, 'configuration reloaded', mark);
    await badGrant();
    expect(await refusals()).toBe(before + 1);
  });

  it('refuses a reload that changes the metrics settings', async () => {
    writeConfig({ issuer: base, clients: [client('first')], metrics: { onMainPort: true } });
    const mark = run.output().length;
    run.child.kill('SIGHUP');
    await waitFor(run, 'these settings need a restart', mark);
    expect(run.output().slice(mark)).toContain('"metrics"');
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
  });

  it('stops at start with a clear error when the metrics port is taken', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const takenPort = (taken.address() as { port: number }).port;
    try {
      const otherPort = await freeLoopbackPort();
      const otherFile = join(dir, 'other.json');
      writeFileSync(otherFile, JSON.stringify({ providersDir: 'none', issuer: `http://127.0.0.1:${otherPort}` }));
      const other = startMain({ PORT: String(otherPort), METRICS_ENABLED: 'true', METRICS_PORT: String(takenPort) }, otherFile);
      expect(await other.exited).toBe(1);
      expect(other.output()).toContain(`vestibule: metrics listener 127.0.0.1:${takenPort}: EADDRINUSE`);
    } finally {
      taken.close();
    }
  }, 60_000);
});
