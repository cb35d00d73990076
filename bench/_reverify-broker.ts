// bench/reverify-signins' broker, in its own process: the real buildApp on Redis with the local connector (sign-ins) and the upstream (re-verified sessions); on command it sweeps every second (paced as its timer does, or all at once as before pacing) or idles, and reports its CPU.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { RedisStore } from '../src/store/redis.js';
import { BENCH_CLIENT_CONFIG, benchUser, COOKIE_KEYS, USER_COUNT } from './lib/settings.js';

const upstream = JSON.parse(process.env.BENCH_UPSTREAM!) as { issuer: string; clientId: string; clientSecret: string; refreshToken: string; sub: string };
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 2000);
const INTERVAL_MS = 15 * 60_000;
/** Re-verifications per second the sweep is paced at: the target's 100,000 sessions per 15-minute interval. */
const TARGET_RATE = Number(process.env.BENCH_REVERIFY_RATE ?? 112);
/** Fake ms the clock moves per real ms, so that TARGET_RATE of the seeded sessions fall due each real second. */
const FAKE_PER_REAL = INTERVAL_MS / SESSIONS * TARGET_RATE / 1000;
const ROOMY = { burst: 1_000_000, perSecond: 1_000_000 };

let clock = Date.now();
const now = () => clock;
const prefix = `vbench:reverify-signins:${process.pid}:`;
const store = new RedisStore({ connection: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, prefix });
await store.ready();
const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const users = Array.from({ length: USER_COUNT }, (_, i) => ({ ...benchUser(i), passwordHash: process.env.BENCH_PASSWORD_HASH! }));
const config = await loadConfig({
  env: {},
  cwd: process.cwd(),
  file: {
    issuer,
    providersDir: 'bench/lib/no-providers',
    auditLog: '/dev/null',
    logLevel: 'silent',
    cookieKeys: COOKIE_KEYS,
    jwksFile: process.env.BENCH_JWKS!,
    // Sign-ins go straight to the local form (one provider for this client: no choose page).
    clients: [{ ...BENCH_CLIENT_CONFIG, allowedProviders: ['local'] }],
    rateLimits: { routes: Object.fromEntries(['authorization', 'interaction', 'callback', 'token'].map((route) => [route, { perIp: ROOMY, perClient: ROOMY }])) },
    loginThrottle: { perIp: 100_000 },
    // The fake clock runs faster than real time: sessions must outlive the run's fake hours.
    tokens: { sessionTtl: 30 * 86400, authorizationCodeTtl: 3600, interactionTtl: 3600 },
    // One sweep a second, as the loop below runs them: a paced sweep spreads its checks over 80% of it.
    session: { sweepIntervalSeconds: 1 },
    providers: [
      { id: 'local', type: 'local', name: 'Bench accounts', domains: ['example.com'], config: { users } },
      { id: 'up', type: 'oidc', name: 'Upstream', config: { issuer: upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret, allowInsecureRequests: true, scopes: ['openid', 'email', 'profile', 'offline_access'] } },
    ],
  },
});
const app = await buildApp(config, { store, now, logger: pino({ level: 'silent' }), sweep: false });
server.on('request', app.app.callback());
const { sessions, vault } = app.broker;
for (let i = 0; i < SESSIONS; i += 1) {
  const accountId = `bench-up-${i}`;
  const identity = { connectorId: 'up', subject: upstream.sub, groups: [], amr: ['pwd'], rawClaims: { sub: upstream.sub } };
  // Due times spread evenly over one interval, as a steady population of sessions has them.
  const verifiedAt = clock - INTERVAL_MS + Math.round((i * INTERVAL_MS) / SESSIONS);
  await sessions.save({ id: `s${i}`, accountId, connectorId: 'up', identity, createdAt: verifiedAt, lastVerifiedAt: verifiedAt }, { accountId, connectorId: 'up', claims: {}, updatedAt: clock });
  await vault.save(`s${i}`, 'up', { accessToken: 'at', refreshToken: upstream.refreshToken, expiresAt: clock + 365 * 86400_000 });
}
process.stdout.write(`${JSON.stringify({ url: issuer })}\n`);

const cpuMsSince = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

/**
 * `sweep`: every second (as an instance's sweep timer), moves the clock by the real time since the previous sweep so
 * that TARGET_RATE sessions fall due per real second, and sweeps them paced (spread over the second, yielding to requests), until `stop`; `burst`: the same, each second's
 * checks at once at the configured concurrency (the sweep before pacing); `idle`: does nothing until `stop`.
 * `stop` reports the CPU this process used since the command, so it covers every sign-in of the phase too, and how
 * many paced checks started among requests (past their latest start).
 */
let phase: { sweeping: boolean; cpu: NodeJS.CpuUsage; started: number; checks: number; verified: number; forced: number; loop?: Promise<void> } | undefined;
for await (const line of createInterface({ input: process.stdin })) {
  const command = line.trim();
  if (command === 'sweep' || command === 'burst' || command === 'idle') {
    const paced = command === 'sweep';
    phase = { sweeping: command !== 'idle', cpu: process.cpuUsage(), started: performance.now(), checks: 0, verified: 0, forced: 0 };
    const current = phase;
    if (current.sweeping) {
      current.loop = (async () => {
        let lastTick = performance.now() - 1000;
        while (current.sweeping) {
          // Sessions fall due with real time, also while a sweep runs long (at most 2 s at a time: codes stay valid).
          const tick = performance.now();
          clock += Math.min(tick - lastTick, 2000) * FAKE_PER_REAL;
          lastTick = tick;
          const report = await app.scheduler.sweepOnce({ paced });
          current.checks += report.taken;
          current.verified += report.outcomes.verified;
          current.forced += report.forced;
          const rest = 1000 - (performance.now() - tick);
          if (rest > 0 && current.sweeping) await new Promise((resolve) => setTimeout(resolve, rest));
        }
      })();
    }
  } else if (command === 'stop' && phase) {
    phase.sweeping = false;
    await phase.loop;
    process.stdout.write(`${JSON.stringify({ checks: phase.checks, verified: phase.verified, forced: phase.forced, cpuMs: cpuMsSince(phase.cpu), wallMs: performance.now() - phase.started })}\n`);
  } else if (command === 'exit') break;
}
await app.close();
server.closeAllConnections();
server.close();
const keys = await store.client.keys(`${prefix}*`);
if (keys.length > 0) await store.client.del(...keys);
await store.close();
// Connectors and pools may keep handles open: this process has nothing more to do.
process.exit(0);
