// Real broker processes for fault tests: src/main.ts under tsx with a written configuration file, started, signalled, killed and restarted; their audit records read back.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProviderFile } from '../../src/config/schema.js';
import { localProvider, ROOMY_RATE_LIMITS, TEST_CLIENT } from '../helpers/broker.js';

export interface BrokerProcess {
  readonly port: number;
  /** http://127.0.0.1:port (the instance itself, not the issuer). */
  readonly url: string;
  /** What the current process wrote (pino JSON lines, stderr; the last megabyte). */
  output(): string;
  /** Starts the process (again, same port and configuration) and waits until it listens ("vestibule listening", or /healthz answers). */
  start(): Promise<void>;
  /** Sends a signal; resolves with the exit code once the process is gone. */
  stop(signal: NodeJS.Signals): Promise<number | null>;
  /** True while a process runs. */
  readonly running: boolean;
  /** The running process's id. */
  readonly pid: number | undefined;
}

/** What replicas share through their configuration: issuer, cookie and vault keys, the store. */
export interface SharedSettings {
  issuer: string;
  /** Ignored when `extra.store` names sentinels. */
  redisUrl: string;
  prefix: string;
  providers?: ProviderFile[];
  /** Extra configuration file fields (e.g. `server`, `store` overrides). */
  extra?: Record<string, unknown>;
}

const children = new Set<ChildProcess>();
const dirs: string[] = [];

/** Writes one configuration file the replicas of a test share, and returns its path. */
export async function writeSharedConfig(settings: SharedSettings): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vestibule-reliability-'));
  dirs.push(dir);
  const file = join(dir, 'config.json');
  const { store: storeOverride, ...extra } = (settings.extra ?? {}) as { store?: Record<string, unknown> };
  writeFileSync(
    file,
    JSON.stringify({
      issuer: settings.issuer,
      providersDir: 'test/fixtures/no-providers',
      auditLog: 'off',
      logLevel: 'info',
      cookieKeys: [randomBytes(32).toString('base64url')],
      vaultKeys: [randomBytes(32).toString('base64url')],
      // Sentinel settings replace the URL.
      store: { type: 'redis', ...(storeOverride && 'sentinels' in storeOverride ? {} : { url: settings.redisUrl }), prefix: settings.prefix, ...(storeOverride as object | undefined) },
      clients: [
        {
          clientId: TEST_CLIENT.clientId,
          clientSecret: TEST_CLIENT.clientSecret,
          redirectUris: [TEST_CLIENT.redirectUri],
          postLogoutRedirectUris: [TEST_CLIENT.postLogoutRedirectUri],
          name: 'Test RP',
        },
      ],
      providers: settings.providers ?? [await localProvider()],
      rateLimits: ROOMY_RATE_LIMITS,
      loginThrottle: { perIp: 1_000_000, perUser: 10_000 },
      ...extra,
    }),
  );
  return file;
}

/** A broker process on `port` with `configFile` (not started yet). */
export function brokerProcess(configFile: string, port: number, extraEnv: Record<string, string> = {}): BrokerProcess {
  let child: ChildProcess | undefined;
  let text = '';
  let exited: Promise<number | null> = Promise.resolve(null);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => text,
    get pid() {
      return child?.pid;
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      text = '';
      const env: NodeJS.ProcessEnv = { ...process.env, BROKER_CONFIG: configFile, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'development', ...extraEnv };
      delete env.REDIS_URL;
      const started = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      children.add(started);
      exited = new Promise((resolve) => started.once('exit', (code) => {
        children.delete(started);
        resolve(code);
      }));
      // The last megabyte is enough to diagnose (a soak writes far more).
      const keep = (chunk: Buffer) => (text = (text + chunk.toString()).slice(-1_000_000));
      started.stdout!.on('data', keep);
      started.stderr!.on('data', keep);
      const deadline = Date.now() + 60_000;
      const listening = async () => text.includes('vestibule listening') || (await fetch(`http://127.0.0.1:${port}/healthz`).then((answer) => answer.ok, () => false));
      while (!(await listening())) {
        if (started.exitCode !== null || Date.now() > deadline) throw new Error(`broker on port ${port} did not start:\n${text.slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop(signal) {
      child?.kill(signal);
      return exited;
    },
  };
}

/** An audit record as the stdout sink writes it (auditLog "stdout"). */
export interface AuditLine {
  event: string;
  outcome: string;
  reason?: string;
  connectorId?: string;
  details?: Record<string, unknown>;
}

/** The audit records the process wrote to stdout (in its kept output), parsed. */
export function auditRecordsOf(instance: BrokerProcess): AuditLine[] {
  return instance
    .output()
    .split('\n')
    .filter((line) => line.includes('"event":"'))
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return undefined;
      }
    })
    .filter((record) => record && typeof record.event === 'string' && typeof record.seq === 'number');
}

/** SIGKILLs every broker process still running and removes the configuration files (afterAll). */
export async function killAllBrokerProcesses(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
