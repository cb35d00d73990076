// Scenario 7: server RSS idle and after 10,000 real logins (sessions), and bytes per session the broker keeps in Redis.
// Logins here use a cheap argon2id hash (m=1 MiB, t=1): password cost does not change what is stored, only the run time.
import argon2 from 'argon2';
import { ServerChild } from './lib/child.js';
import { loginFlow, pool, runPool } from './lib/flow.js';
import { count, prepare, runScenario } from './lib/harness.js';
import { RedisCpu } from './lib/redis-cpu.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { BENCH_USER, writeBenchJwks } from './lib/settings.js';
import { ratio } from './lib/stats.js';

const SESSIONS = count(10_000, 200);
const CONCURRENCY = 8;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MiB = 1024 * 1024;

await runScenario(async (servers) => {
  const method = { ...prepare(), sessions: SESSIONS, concurrency: CONCURRENCY, flow: 'full login + code exchange, scope openid profile email groups', passwordHash: 'argon2id m=1024 t=1 p=1', users: 'logins rotate over 1,000 local users' };
  const jwksFile = await writeBenchJwks();
  const passwordHash = await argon2.hash(BENCH_USER.password, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 });
  const prefix = `vbench:memory:${process.pid}:`;
  const redis = new RedisCpu(REDIS_URL);
  try {
    servers.push(
      await ServerChild.start('broker', { kind: 'broker', jwksFile, passwordHash, store: { type: 'redis', url: REDIS_URL, prefix } }),
      await ServerChild.start('peer', { kind: 'peer-oidc', jwksFile, passwordHash }),
    );
    const figures = new Map<string, { idle: number; after: number; heapAfter: number }>();
    for (const server of servers) {
      const agent = pool(CONCURRENCY);
      const target = { name: server.name, url: server.url };
      await runPool(20, 4, () => loginFlow(agent, target));
      const idle = await server.memory();
      await runPool(SESSIONS, CONCURRENCY, () => loginFlow(agent, target));
      const after = await server.memory();
      await agent.close();
      figures.set(server.name, { idle: idle.rss, after: after.rss, heapAfter: after.heapUsed });
      process.stderr.write(`  [${server.name}] rss idle ${(idle.rss / MiB).toFixed(1)} MiB, after ${(after.rss / MiB).toFixed(1)} MiB, heap ${(after.heapUsed / MiB).toFixed(1)} MiB\n`);
    }
    const usage = await redis.prefixUsage(prefix);
    const b = figures.get('broker')!;
    const p = figures.get('peer')!;
    const perSession = (f: { idle: number; after: number }) => (f.after - f.idle) / SESSIONS;
    const rows: BenchRow[] = [
      { metric: 'RSS idle (after start, 20 logins, GC)', unit: 'MiB', broker: b.idle / MiB, peer: p.idle / MiB, ratio: ratio(b.idle, p.idle) },
      { metric: `RSS after ${SESSIONS} logins (GC)`, unit: 'MiB', broker: b.after / MiB, peer: p.after / MiB, ratio: ratio(b.after, p.after), note: 'the broker keeps sessions in Redis, the peer in its own heap' },
      { metric: 'server RSS growth per session', unit: 'bytes', broker: perSession(b), peer: perSession(p), ratio: perSession(b) > 0 ? ratio(perSession(b), perSession(p)) : null, note: 'near zero or negative: no session state in the process (allocator noise)' },
      { metric: 'heap used after the logins (GC)', unit: 'MiB', broker: b.heapAfter / MiB, peer: p.heapAfter / MiB, ratio: ratio(b.heapAfter, p.heapAfter) },
      {
        metric: 'Redis bytes per session (MEMORY USAGE of every key under the prefix / logins)',
        unit: 'bytes',
        broker: usage.bytes / SESSIONS,
        peer: null,
        ratio: null,
        note: `${usage.keys} keys; includes short-lived authorization codes and interactions still within their TTL`,
      },
    ];
    emitResult({ scenario: 'memory', title: `Memory: idle and after ${SESSIONS} sessions`, peer: 'bare oidc-provider 9, memory adapter', rows, method });
  } finally {
    await redis.flushPrefix(prefix).catch(() => undefined);
    await redis.close();
  }
});
