// Sessions re-verified per second and per broker CPU core by the sweep (real upstream oidc-provider in another process, 10 ms added latency, Redis store); prints its figures.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { RedisStore } from '../src/store/redis.js';
import { emitResult } from './lib/report.js';

const SESSIONS = Math.round(2000 * Number(process.env.BENCH_SCALE ?? 1));
const ROUNDS = Math.max(3, Number(process.env.BENCH_REPEATS ?? 3));
const INTERVAL_MS = 15 * 60_000;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface UpstreamLine {
  issuer: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  sub: string;
}

const child = spawn(process.execPath, ['--import', 'tsx', 'bench/_reverify-upstream.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
const upstream = await new Promise<UpstreamLine>((resolve, reject) => {
  createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as UpstreamLine));
  child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
});

let clock = Date.now();
const now = () => clock;
const prefix = `vbench:reverify:${process.pid}:`;
const store = new RedisStore({ connection: { url: REDIS_URL }, prefix });
await store.ready();
const config = await loadConfig({
  env: {},
  cwd: process.cwd(),
  file: {
    providersDir: 'bench/lib/no-providers',
    logLevel: 'silent',
    auditLog: 'off',
    providers: [{ id: 'up', type: 'oidc', name: 'Upstream', config: { issuer: upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret, allowInsecureRequests: true, scopes: ['openid', 'email', 'profile', 'offline_access'] } }],
  },
});
const app = await buildApp(config, { store, now, logger: pino({ level: 'silent' }), sweep: false });
const { sessions, vault } = app.broker;

// Sessions as a sign-in leaves them: the record (due after the interval) and the upstream tokens in the vault.
for (let i = 0; i < SESSIONS; i += 1) {
  const accountId = `bench-${i}`;
  const id = `s${i}`;
  const identity = { connectorId: 'up', subject: upstream.sub, groups: [], amr: ['pwd'], rawClaims: { sub: upstream.sub } };
  await sessions.save({ id, accountId, connectorId: 'up', identity, createdAt: clock, lastVerifiedAt: clock }, { accountId, connectorId: 'up', claims: {}, updatedAt: clock });
  await vault.save(id, 'up', { accessToken: 'at', refreshToken: upstream.refreshToken, expiresAt: clock + 3600_000 });
}

const rates: number[] = [];
const cpuPerCheck: number[] = [];
for (let round = 0; round < ROUNDS; round += 1) {
  clock += INTERVAL_MS;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const report = await app.scheduler.sweepOnce();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  if (report.outcomes.verified !== SESSIONS) throw new Error(`round ${round}: ${JSON.stringify(report.outcomes)}`);
  rates.push(SESSIONS / seconds);
  cpuPerCheck.push((cpuSeconds * 1000) / SESSIONS);
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const cpuMs = median(cpuPerCheck);
const perCore = 1000 / cpuMs;
emitResult({
  scenario: 'reverify',
  title: 'Sessions re-verified by the sweep (upstream refresh through the vault), Redis store',
  rows: [
    { metric: 're-verifications per broker CPU-second', unit: '/s', broker: Math.round(perCore), peer: null, ratio: null, target: '>= 112/s per core', met: perCore >= 112 },
    { metric: 'broker CPU per re-verification', unit: 'ms', broker: Math.round(cpuMs * 100) / 100, peer: null, ratio: null },
    { metric: 're-verifications per second (wall, concurrency-bound)', unit: '/s', broker: Math.round(median(rates)), peer: null, ratio: null },
  ],
  method: { sessions: SESSIONS, sweeps: ROUNDS, concurrency: config.session.sweepConcurrency, upstreamLatencyMs: Number(process.env.UPSTREAM_LATENCY_MS ?? 10), upstream: 'oidc-provider in a child process', cpu: 'process.cpuUsage of the broker process (Redis and upstream not counted)' },
});

await app.close();
const keys = await store.client.keys(`${prefix}*`);
if (keys.length > 0) await store.client.del(...keys);
await store.close();
child.kill();
