// Scenario 7: server RSS idle and after 10,000 real logins (sessions), and bytes per session the broker keeps in Redis.
// Logins here use a cheap argon2id hash (m=1 MiB, t=1): password cost does not change what is stored, only the run time.
// Idle RSS is also measured as deployed: both servers transpiled to JavaScript and run by node without tsx.
import argon2 from 'argon2';
import { SERVER_MAIN, ServerChild } from './lib/child.js';
import { compiledPath, compiledTree } from './lib/compiled.js';
import { loginFlow, pool, runPool } from './lib/flow.js';
import { count, prepare, REPEATS, runScenario } from './lib/harness.js';
import { RedisCpu } from './lib/redis-cpu.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { BENCH_USER, writeBenchJwks } from './lib/settings.js';
import { median, ratio } from './lib/stats.js';

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
    // As deployed: plain JavaScript (the image runs `node dist/main.js`); tsx holds every transformed TypeScript module.
    const tree = await compiledTree();
    // Idle RSS moves by several MiB between starts (how far the young generation grew while loading): a fresh process per
    // repeat, alternating, median.
    const deployed = new Map<string, { rss: number[]; heapUsed: number[] }>([
      ['broker', { rss: [], heapUsed: [] }],
      ['peer', { rss: [], heapUsed: [] }],
    ]);
    try {
      const entry = { file: compiledPath(tree.root, SERVER_MAIN), specEnv: 'BENCH_SERVER_SPEC', runtime: 'node' as const };
      const specs = [
        ['broker', { kind: 'broker', jwksFile, passwordHash, store: { type: 'redis', url: REDIS_URL, prefix } }],
        ['peer', { kind: 'peer-oidc', jwksFile, passwordHash }],
      ] as const;
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        for (const [name, spec] of repeat % 2 === 0 ? specs : [...specs].reverse()) {
          const server = await ServerChild.start(`${name}-js`, spec, 60_000, entry);
          try {
            const agent = pool(CONCURRENCY);
            await runPool(20, 4, () => loginFlow(agent, { name: server.name, url: server.url }));
            await agent.close();
            const idle = await server.memory();
            deployed.get(name)!.rss.push(idle.rss);
            deployed.get(name)!.heapUsed.push(idle.heapUsed);
            process.stderr.write(`  [${server.name} #${repeat + 1}] rss idle ${(idle.rss / MiB).toFixed(1)} MiB, heap ${(idle.heapUsed / MiB).toFixed(1)} MiB\n`);
          } finally {
            await server.stop();
          }
        }
      }
    } finally {
      tree.remove();
    }
    const bd = { rss: median(deployed.get('broker')!.rss), heapUsed: median(deployed.get('broker')!.heapUsed) };
    const pd = { rss: median(deployed.get('peer')!.rss), heapUsed: median(deployed.get('peer')!.heapUsed) };
    const idleRatio = ratio(bd.rss, pd.rss);

    const usage = await redis.prefixUsage(prefix);
    const b = figures.get('broker')!;
    const p = figures.get('peer')!;
    const perSession = (f: { idle: number; after: number }) => (f.after - f.idle) / SESSIONS;
    const rows: BenchRow[] = [
      { metric: 'RSS idle (after start, 20 logins, GC), both run through tsx', unit: 'MiB', broker: b.idle / MiB, peer: p.idle / MiB, ratio: ratio(b.idle, p.idle) },
      { metric: `RSS idle as deployed: compiled JavaScript, no tsx (after start, 20 logins, GC; median of ${REPEATS} starts)`, unit: 'MiB', broker: bd.rss / MiB, peer: pd.rss / MiB, ratio: idleRatio, target: '<= 1.2x', met: idleRatio !== null && idleRatio <= 1.2 },
      { metric: 'heap used idle as deployed (GC)', unit: 'MiB', broker: bd.heapUsed / MiB, peer: pd.heapUsed / MiB, ratio: ratio(bd.heapUsed, pd.heapUsed) },
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
