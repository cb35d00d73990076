// A Redis Sentinel group on loopback for failover tests: a primary, a replica and three sentinels (Debian's redis-sentinel), each a process of its own.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, redisCli, startRedisServer, type RedisServer } from '../helpers/redis.js';

export const MASTER_NAME = 'vestibule-test';

export interface SentinelGroup {
  primary: RedisServer;
  replica: RedisServer;
  /** "127.0.0.1:port" of each sentinel. */
  sentinels: string[];
  /** The port of the primary as the sentinels see it now. */
  masterPort(): number;
  close(): Promise<void>;
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts the group and waits until every sentinel sees the primary, the replica and the other sentinels. */
export async function startSentinelGroup(): Promise<SentinelGroup> {
  const primary = await startRedisServer();
  const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const ports: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), `vestibule-sentinel-${port}-`));
    const file = join(dir, 'sentinel.conf');
    writeFileSync(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    children.push(spawn('redis-sentinel', [file], { stdio: 'ignore', cwd: dir }));
    dirs.push(dir);
    ports.push(port);
  }
  const group: SentinelGroup = {
    primary,
    replica,
    sentinels: ports.map((port) => `127.0.0.1:${port}`),
    masterPort() {
      const answer = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(ports[0]), 'SENTINEL', 'get-master-addr-by-name', MASTER_NAME], { encoding: 'utf8' });
      return Number(answer.stdout.trim().split('\n')[1]);
    },
    async close() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGKILL');
            }),
        ),
      );
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
      await replica.destroy();
      await primary.destroy();
    },
  };
  try {
    await until(() => redisCli(replica.port, 'INFO', 'replication').includes('master_link_status:up'), 'the replica to sync');
    for (const port of ports) {
      await until(() => {
        const state = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'SENTINEL', 'master', MASTER_NAME], { encoding: 'utf8' }).stdout;
        const lines = state.trim().split('\n');
        const field = (name: string) => Number(lines[lines.indexOf(name) + 1]);
        return field('num-slaves') >= 1 && field('num-other-sentinels') >= 2;
      }, `sentinel ${port} to see the group`);
    }
  } catch (error) {
    await group.close();
    throw error;
  }
  return group;
}
