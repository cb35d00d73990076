// The broker as a benchmark server: the real buildApp with the local connector, the bench client, and the memory or Redis store.
import type { RequestListener } from 'node:http';
import { pino } from 'pino';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/load.js';
import { BENCH_CLIENT_CONFIG, benchUser, COOKIE_KEYS, USER_COUNT } from '../settings.js';
import type { ServerSpec } from '../spec.js';

const ROOMY = { burst: 1_000_000, perSecond: 1_000_000 };
const BENCH_RATE_LIMITS = {
  routes: Object.fromEntries(['authorization', 'interaction', 'callback', 'token', 'introspection', 'registration'].map((route) => [route, { perIp: ROOMY, perClient: ROOMY }])),
};

export async function brokerServer(spec: Extract<ServerSpec, { kind: 'broker' }>, issuer: string): Promise<{ handler: RequestListener; close(): Promise<void> }> {
  const users = Array.from({ length: USER_COUNT }, (_, i) => ({ ...benchUser(i), passwordHash: spec.passwordHash }));
  const logLevel = spec.logLevel ?? 'info';
  const config = await loadConfig({
    env: {},
    cwd: process.cwd(),
    file: {
      issuer,
      providersDir: 'bench/lib/no-providers',
      // As deployed: audit records and one log line per request, written to /dev/null so only their production cost counts.
      auditLog: '/dev/null',
      logLevel,
      cookieKeys: COOKIE_KEYS,
      jwksFile: spec.jwksFile,
      store: spec.store,
      clients: [BENCH_CLIENT_CONFIG],
      // Every limit on, each budget far above the load (one client from one address), so the limiter's cost is measured, not its refusals.
      rateLimits: process.env.BENCH_RATE_LIMITS === 'off' ? { enabled: false } : BENCH_RATE_LIMITS,
      // The flows send up to 64 sign-ins at once from one address: the per-IP sign-in limit counts attempts in flight.
      loginThrottle: { perIp: 100_000 },
      providers: [{ id: 'local', type: 'local', name: 'Bench accounts', domains: ['example.com'], config: { users } }, ...(spec.providers ?? [])],
      ...spec.config,
    },
  });
  const logger = pino({ level: logLevel }, pino.destination({ dest: '/dev/null', sync: false }));
  const built = await buildApp(config, { logger });
  return { handler: built.app.callback(), close: () => built.close() };
}
