// Starts a real broker on a loopback port for tests, with a local test user, a test client and captured audit events.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { buildApp, type AppDeps, type BrokerApp } from '../../src/app.js';
import type { AuditEvent } from '../../src/audit/events.js';
import { loadConfig, type BrokerConfig } from '../../src/config/load.js';
import type { ProviderFile } from '../../src/config/schema.js';
import { hashPassword } from '../../src/connectors/local.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { MemoryStore } from '../../src/store/memory.js';

export const TEST_USER = { username: 'alice', password: 'correct horse battery staple', email: 'alice@example.com', name: 'Alice Liddell', groups: ['admins', 'staff'] };
export const TEST_CLIENT = { clientId: 'test-rp', clientSecret: 'test-rp-secret-0123456789abcdefghijklmnop', redirectUri: 'http://127.0.0.1:1/cb', postLogoutRedirectUri: 'http://127.0.0.1:1/bye' };
export const PUBLIC_CLIENT = { clientId: 'test-spa', redirectUri: 'http://127.0.0.1:1/spa-cb' };

let cachedHash: Promise<string> | undefined;
/** The argon2id hash of TEST_USER's password, computed once per test file. */
export function testUserHash(): Promise<string> {
  cachedHash ??= hashPassword(TEST_USER.password);
  return cachedHash;
}

export async function localProvider(id = 'local', domains: string[] = ['example.com']): Promise<ProviderFile> {
  const { password: _password, ...user } = TEST_USER;
  return { id, type: 'local', name: 'Test accounts', domains, config: { users: [{ ...user, passwordHash: await testUserHash() }] } };
}

const ROOMY = { burst: 1_000_000, perSecond: 1_000_000 };
/** Every rate limit on (the limiter runs in every test), each budget far above what one test sends from 127.0.0.1. */
export const ROOMY_RATE_LIMITS = {
  routes: Object.fromEntries(['authorization', 'interaction', 'callback', 'token', 'introspection', 'registration'].map((route) => [route, { perIp: ROOMY, perClient: ROOMY }])),
};

export interface StartOptions {
  /** Configuration file fields (merged over the test defaults). */
  config?: Record<string, unknown>;
  /** Providers; default one local provider with TEST_USER. */
  providers?: ProviderFile[];
  /** Extra environment variables for "$ENV" references. */
  env?: Record<string, string>;
  store?: KeyValueStore;
  now?: () => number;
  /** Use this port instead of a free one. */
  port?: number;
  /** The broker's logger (default silent). */
  logger?: Logger;
  /** Run the re-verification sweep on its timer (default off: tests call `app.scheduler.sweepOnce()`). */
  sweep?: boolean;
  /** Outbound fetches of metadata documents: the resolver (test names to 127.0.0.1) and a trusted test CA. */
  outbound?: Pick<AppDeps, 'outboundResolver' | 'outboundCa'>;
}

export interface TestBroker {
  issuer: string;
  url: string;
  port: number;
  config: BrokerConfig;
  store: KeyValueStore;
  app: BrokerApp;
  audit: AuditEvent[];
  close(): Promise<void>;
}

export async function startBroker(options: StartOptions = {}): Promise<TestBroker> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const providers = options.providers ?? [await localProvider()];
  const config = await loadConfig({
    env: { ...options.env },
    cwd: process.cwd(),
    file: {
      issuer,
      port,
      providersDir: 'test/fixtures/no-providers',
      auditLog: 'off',
      logLevel: 'silent',
      clients: [
        { clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], postLogoutRedirectUris: [TEST_CLIENT.postLogoutRedirectUri], name: 'Test RP' },
        { clientId: PUBLIC_CLIENT.clientId, public: true, redirectUris: [PUBLIC_CLIENT.redirectUri], skipConsent: true },
      ],
      providers,
      // Every limit on (the limiter runs in every test), each budget far above what one test sends from 127.0.0.1.
      rateLimits: ROOMY_RATE_LIMITS,
      ...options.config,
    },
  });
  const audit: AuditEvent[] = [];
  const store = options.store ?? new MemoryStore({ now: options.now });
  const app = await buildApp(config, {
    logger: options.logger ?? pino({ level: 'silent' }),
    store,
    now: options.now,
    auditSinks: [{ write: (event) => void audit.push(event) }],
    sweep: options.sweep ?? false,
    ...options.outbound,
  });
  handler = app.app.callback();
  return {
    issuer,
    url: issuer,
    port,
    config,
    store,
    app,
    audit,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      if (!options.store) await store.close();
    },
  };
}
