// Scenario 2: refresh_token grant rate with rotation, broker on the Redis store vs a bare oidc-provider on its memory adapter.
// Many independent chains run concurrently; each refresh uses the refresh token of the previous response in its chain.
// Every repeat starts fresh chains (logins outside the measured window), so repeats measure the same chain depths;
// a second measurement follows a few chains deep to show how the cost per refresh changes with chain length.
import { ServerChild, measureCpu } from './lib/child.js';
import { loginFlow, pool, refresh, runPool, type Target } from './lib/flow.js';
import { alternate, benchPasswordHash, count, medianOf, prepare, runScenario } from './lib/harness.js';
import { RedisCpu } from './lib/redis-cpu.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { writeBenchJwks } from './lib/settings.js';
import { ratio } from './lib/stats.js';

const CHAINS = 32;
const PER_CHAIN = Math.max(5, Math.round(count(4000, CHAINS) / CHAINS));
const WARMUP = count(1000, CHAINS);
const DEEP_CHAINS = 4;
const DEEP_DEPTH = count(1000, 200);
const DEEP_WINDOW = Math.round(DEEP_DEPTH / 10);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEYCLOAK_PER_VCPU = 120;

await runScenario(async (servers) => {
  const total = PER_CHAIN * CHAINS;
  const method = {
    ...prepare(),
    chains: CHAINS,
    refreshesPerChain: PER_CHAIN,
    refreshesPerRun: total,
    warmupRefreshes: WARMUP,
    deepChains: DEEP_CHAINS,
    deepDepth: DEEP_DEPTH,
    redis: REDIS_URL.replace(/\/\/[^@]*@/, '//'),
    scope: 'openid profile email groups offline_access',
  };
  const jwksFile = await writeBenchJwks();
  const passwordHash = await benchPasswordHash();
  const prefix = `vbench:refresh:${process.pid}:`;
  const redis = new RedisCpu(REDIS_URL);
  try {
    servers.push(
      await ServerChild.start('broker', { kind: 'broker', jwksFile, passwordHash, store: { type: 'redis', url: REDIS_URL, prefix } }),
      await ServerChild.start('peer', { kind: 'peer-oidc', jwksFile, passwordHash }),
      await ServerChild.start('broker-memory', { kind: 'broker', jwksFile, passwordHash, store: { type: 'memory' } }),
    );
    const agents = new Map(servers.map((s) => [s.name, pool(CHAINS)]));
    const target = (server: ServerChild): Target => ({ name: server.name, url: server.url });
    /** Logs in `n` times: one fresh chain (refresh token) per login. */
    const newChains = async (server: ServerChild, n: number) =>
      (await Promise.all(Array.from({ length: n }, () => loginFlow(agents.get(server.name)!, target(server), { offline: true })))).map((t) => t.refresh_token!);
    /** Advances every chain `depth` refreshes, all chains concurrently. */
    const advance = (server: ServerChild, chains: string[], depth: number) =>
      runPool(chains.length, chains.length, async (chain) => {
        for (let i = 0; i < depth; i++) chains[chain] = (await refresh(agents.get(server.name)!, target(server), chains[chain]!)).refresh_token!;
      });

    for (const server of servers) await advance(server, await newChains(server, CHAINS), Math.ceil(WARMUP / CHAINS));

    const samples = await alternate(servers, async (server) => {
      const chains = await newChains(server, CHAINS);
      const redis0 = await redis.cpuMs();
      const { cpuMs, wallMs } = await measureCpu(server, () => advance(server, chains, PER_CHAIN));
      const redisMs = (await redis.cpuMs()) - redis0;
      return { perSec: (total * 1000) / wallMs, perCpuSec: (total * 1000) / cpuMs, cpuMsPerOp: cpuMs / total, redisCpuMsPerOp: server.name === 'broker' ? redisMs / total : 0 };
    });

    // Deep chains: CPU per refresh over the first and the last DEEP_WINDOW refreshes of DEEP_DEPTH-long chains.
    const deep = new Map<string, { first: number; last: number }>();
    for (const server of servers) {
      const chains = await newChains(server, DEEP_CHAINS);
      const first = await measureCpu(server, () => advance(server, chains, DEEP_WINDOW));
      await advance(server, chains, DEEP_DEPTH - 2 * DEEP_WINDOW);
      const last = await measureCpu(server, () => advance(server, chains, DEEP_WINDOW));
      deep.set(server.name, { first: first.cpuMs / (DEEP_WINDOW * DEEP_CHAINS), last: last.cpuMs / (DEEP_WINDOW * DEEP_CHAINS) });
      process.stderr.write(`  [${server.name} deep] first=${deep.get(server.name)!.first.toFixed(2)} ms last=${deep.get(server.name)!.last.toFixed(2)} ms\n`);
    }
    await Promise.all([...agents.values()].map((a) => a.close()));

    const broker = samples.get('broker');
    const peer = samples.get('peer');
    const perCore = medianOf(broker, 'perCpuSec');
    const perCoreRatio = ratio(perCore, medianOf(peer, 'perCpuSec'));
    const wallRatio = ratio(medianOf(broker, 'perSec'), medianOf(peer, 'perSec'));
    const withRedis = 1000 / (medianOf(broker, 'cpuMsPerOp') + medianOf(broker, 'redisCpuMsPerOp'));
    const deepBroker = deep.get('broker')!;
    const deepPeer = deep.get('peer')!;
    const deepMemory = deep.get('broker-memory')!;
    const rows: BenchRow[] = [
      {
        metric: `refreshes/s, ${CHAINS} rotating chains of ${PER_CHAIN}, server on one core`,
        unit: '/s',
        broker: medianOf(broker, 'perSec'),
        peer: medianOf(peer, 'perSec'),
        ratio: wallRatio,
        target: '>= 0.6x',
        met: wallRatio !== null && wallRatio >= 0.6,
      },
      {
        metric: 'refreshes per CPU-second of the server process',
        unit: '/s/core',
        broker: perCore,
        peer: medianOf(peer, 'perCpuSec'),
        ratio: perCoreRatio,
        target: '>= 0.6x and >= 1500/s/core',
        met: perCoreRatio !== null && perCoreRatio >= 0.6 && perCore >= 1500,
      },
      { metric: 'CPU per refresh', unit: 'ms', broker: medianOf(broker, 'cpuMsPerOp'), peer: medianOf(peer, 'cpuMsPerOp'), ratio: ratio(medianOf(broker, 'cpuMsPerOp'), medianOf(peer, 'cpuMsPerOp')) },
      {
        metric: 'refreshes per CPU-second, broker + Redis server',
        unit: '/s/core',
        broker: withRedis,
        peer: null,
        ratio: null,
        note: `${(withRedis / KEYCLOAK_PER_VCPU).toFixed(1)}x Keycloak's published ${KEYCLOAK_PER_VCPU}/s/vCPU; Redis CPU is the whole server's (shared with any other client)`,
      },
      {
        metric: 'CPU per refresh, broker on the memory store',
        unit: 'ms',
        broker: medianOf(samples.get('broker-memory'), 'cpuMsPerOp'),
        peer: medianOf(peer, 'cpuMsPerOp'),
        ratio: ratio(medianOf(samples.get('broker-memory'), 'cpuMsPerOp'), medianOf(peer, 'cpuMsPerOp')),
        note: 'separates the Redis client cost from the rest of the broker',
      },
      { metric: `CPU per refresh, first ${DEEP_WINDOW} of a chain`, unit: 'ms', broker: deepBroker.first, peer: deepPeer.first, ratio: ratio(deepBroker.first, deepPeer.first), note: `${DEEP_CHAINS} chains, single run` },
      { metric: `CPU per refresh, refreshes ${DEEP_DEPTH - DEEP_WINDOW + 1}-${DEEP_DEPTH} of a chain`, unit: 'ms', broker: deepBroker.last, peer: deepPeer.last, ratio: ratio(deepBroker.last, deepPeer.last), note: `${DEEP_CHAINS} chains, single run` },
      {
        metric: `CPU per refresh, refreshes ${DEEP_DEPTH - DEEP_WINDOW + 1}-${DEEP_DEPTH}, broker on the memory store`,
        unit: 'ms',
        broker: deepMemory.last,
        peer: deepPeer.last,
        ratio: ratio(deepMemory.last, deepPeer.last),
        note: `first ${DEEP_WINDOW}: ${deepMemory.first.toFixed(2)} ms`,
      },
    ];
    emitResult({ scenario: 'refresh-rate', title: 'refresh_token grant rate (rotation), broker on Redis', peer: 'bare oidc-provider 9, same settings, memory adapter', rows, method });
  } finally {
    await redis.flushPrefix(prefix).catch(() => undefined);
    await redis.close();
  }
});
