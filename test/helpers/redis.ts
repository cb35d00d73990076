// Test access to Redis: the shared server at $REDIS_URL with an isolated key prefix per store, and private redis-server processes.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { RedisStore } from '../../src/store/redis.js';
import type { RedisConnection } from '../../src/store/redis.js';

/** The shared test Redis (started by .ci/redis.sh when none answers). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix no other test uses. */
export function testPrefix(label = 't'): string {
  return `vtest:${label}:${randomBytes(6).toString('hex')}:`;
}

const opened = new Set<RedisStore>();

/** A RedisStore on its own prefix (shared server unless `connection` says otherwise), answering. */
export async function openRedisStore(options: { connection?: RedisConnection; prefix?: string } = {}): Promise<RedisStore> {
  const store = new RedisStore({ connection: options.connection ?? { url: REDIS_URL }, prefix: options.prefix ?? testPrefix() });
  // Stores on the shared server are flushed by disposeAllRedisStores; stores on private servers go with their server.
  if (!options.connection) opened.add(store);
  await store.ready(10_000);
  return store;
}

/** Deletes every key under the store's prefix (on every master in Cluster), and nothing else. */
export async function flushPrefix(store: RedisStore): Promise<void> {
  const nodes = store.client instanceof Cluster ? store.client.nodes('master') : [store.client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${store.prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) await node.del(key);
    } while (cursor !== '0');
  }
}

/** Flushes the store's own prefix and closes it. */
export async function disposeRedisStore(store: RedisStore): Promise<void> {
  opened.delete(store);
  try {
    if (store.client.status === 'ready') await flushPrefix(store);
  } finally {
    await store.close();
  }
}

/** Disposes every store openRedisStore made and that is still open (use in afterAll). */
export async function disposeAllRedisStores(): Promise<void> {
  await Promise.all([...opened].map((store) => disposeRedisStore(store)));
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** SIGKILLs the process (a crash, no final save). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

/** Runs `redis-cli` against a port and returns stdout (throws on failure). */
export function redisCli(port: number, ...args: string[]): string {
  const result = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout.trim();
}

/** Runs redis-cli against a redis:// URL: host, port, credentials and database number all come from the URL. */
export function redisCliAt(url: string, ...args: string[]): string {
  const result = spawnSync('redis-cli', ['-u', url, '--no-auth-warning', ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout.trim();
}

async function waitForPing(port: number, timeoutMs: number, cwd?: string, cliArgs: string[] = []): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = spawnSync('redis-cli', [...cliArgs, '-h', '127.0.0.1', '-p', String(port), 'PING'], { encoding: 'utf8', cwd });
    if (result.stdout.trim() === 'PONG') return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts a private redis-server on a free loopback port in a temp dir (AOF optional, extra args e.g. cluster mode). */
export async function startRedisServer(options: { aof?: boolean; args?: string[]; port?: number } = {}): Promise<RedisServer> {
  return launch(options.port, 'redis', (port, dir) => [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', options.aof ? 'yes' : 'no', '--appendfsync', 'always', ...(options.args ?? []),
  ]);
}

/** Starts a Redis Sentinel watching the master on masterPort under `name` (quorum 1). */
export async function startSentinel(masterPort: number, name = 'mymaster'): Promise<RedisServer> {
  return launch(undefined, 'sentinel', (port, dir) => {
    const file = join(dir, 'sentinel.conf');
    writeFileSync(file, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${masterPort} 1\n`);
    return [file, '--sentinel'];
  });
}

/** Starts a TLS-only redis-server with a fresh CA and server certificate (for 127.0.0.1); `ca` is the PEM to trust. */
export async function startTlsRedisServer(): Promise<RedisServer & { ca: string }> {
  let ca = '';
  const server = await launch(undefined, 'tls', (port, dir) => {
    const run = (...args: string[]) => {
      const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
    };
    if (!ca) {
      run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=vestibule-test-ca');
      run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
      writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
      run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'ext');
      ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
    }
    return [
      '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
      '--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key'),
      '--tls-ca-cert-file', join(dir, 'ca.crt'), '--tls-auth-clients', 'no',
    ];
  }, ['--tls', '--cacert', 'ca.crt']);
  return Object.assign(server, { ca, url: `rediss://127.0.0.1:${server.port}` });
}

async function launch(
  fixedPort: number | undefined,
  label: string,
  argsFor: (port: number, dir: string) => string[],
  cliArgs: string[] = [],
): Promise<RedisServer> {
  const port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), `vestibule-${label}-${port}-`));
  let child: ChildProcess | undefined;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async start() {
      child = spawn('redis-server', argsFor(port, dir), { stdio: 'ignore', cwd: dir });
      await waitForPing(port, 10_000, dir, cliArgs);
    },
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
    },
    async destroy() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
