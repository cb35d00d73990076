// Scenario: what the rate limiter adds to a refresh, a sign-in and refresh latency: the same broker with every limit on vs off, on Redis and on the memory store, in one run.
// Many short interleaved A/B windows (on, off, off, on, ...); each pair's ratio on/off is one sample and the figure is the
// median of the pairs' ratios, which cancels the shared machine's drift between minutes. Budgets are far above the load
// (the bench broker's), so the limiter's cost is measured, not its refusals. The rule: at most 10% slower.
import { ServerChild, measureCpu } from './lib/child.js';
import { loginFlow, pool, refresh, runPool, type Target } from './lib/flow.js';
import { benchPasswordHash, count, prepare, runScenario } from './lib/harness.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { writeBenchJwks } from './lib/settings.js';
import { median, percentile } from './lib/stats.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CHAINS = 16;
const REFRESHES_PER_CHAIN = Math.max(5, Math.round(count(400, CHAINS) / CHAINS));
const LOGINS = count(12, 4);
/** Sequential refreshes of one chain per window: the latency of one request on an otherwise idle server. */
const SEQUENTIAL = count(100, 20);
const PAIRS = Math.max(15, Number(process.env.BENCH_PAIRS ?? 15));

interface Window {
  cpuMsPerRefresh: number;
  cpuMsPerLogin: number;
  refreshP50: number;
}

await runScenario(async (servers) => {
  const method = { ...prepare(), pairs: PAIRS, chains: CHAINS, refreshesPerChain: REFRESHES_PER_CHAIN, loginsPerWindow: LOGINS, loginConcurrency: 4, sequentialRefreshes: SEQUENTIAL };
  const jwksFile = await writeBenchJwks();
  const passwordHash = await benchPasswordHash();
  const broker = (name: string, store: 'redis' | 'memory', limits: boolean) =>
    ServerChild.start(name, {
      kind: 'broker',
      jwksFile,
      passwordHash,
      store: store === 'redis' ? { type: 'redis', url: REDIS_URL, prefix: `vbench:rlcost:${process.pid}:${name.replaceAll(" ", "-")}:` } : { type: 'memory' },
      ...(limits ? {} : { config: { rateLimits: { enabled: false } } }),
    });
  const stores = ['redis', 'memory'] as const;
  for (const store of stores) servers.push(await broker(`${store} limits on`, store, true), await broker(`${store} limits off`, store, false));
  const agents = new Map(servers.map((s) => [s.name, pool(Math.max(CHAINS, 32))]));
  const target = (s: ServerChild): Target => ({ name: s.name, url: s.url });
  const chainsOf = async (server: ServerChild, n: number) =>
    (await Promise.all(Array.from({ length: n }, () => loginFlow(agents.get(server.name)!, target(server), { offline: true })))).map((t) => t.refresh_token!);

  /** One measurement of one field on one server (the chains it needs are made before, outside the window). */
  const measure: Record<keyof Window, (server: ServerChild) => Promise<number>> = {
    cpuMsPerRefresh: async (server) => {
      const agent = agents.get(server.name)!;
      const chains = await chainsOf(server, CHAINS);
      const { cpuMs } = await measureCpu(server, () =>
        runPool(CHAINS, CHAINS, async (c) => {
          for (let i = 0; i < REFRESHES_PER_CHAIN; i++) chains[c] = (await refresh(agent, target(server), chains[c]!)).refresh_token!;
        }),
      );
      return cpuMs / (CHAINS * REFRESHES_PER_CHAIN);
    },
    cpuMsPerLogin: async (server) => {
      const { cpuMs } = await measureCpu(server, () => runPool(LOGINS, 4, () => loginFlow(agents.get(server.name)!, target(server), { offline: true })));
      return cpuMs / LOGINS;
    },
    // One chain refreshed request after request: the added latency of one request, without queueing.
    refreshP50: async (server) => percentile(await sequentialRefreshes(server), 50),
  };
  const sequentialRefreshes = async (server: ServerChild) => {
    let token = (await chainsOf(server, 1))[0]!;
    return runPool(SEQUENTIAL, 1, async () => {
      token = (await refresh(agents.get(server.name)!, target(server), token)).refresh_token!;
    });
  };

  /** A window that fails (on a shared machine under heavy load Redis calls can time out: 503) is measured again, twice at most. */
  const again = async (work: () => Promise<number>): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (attempt === 3) throw error;
        process.stderr.write(`  window failed, measured again: ${(error as Error).message.slice(0, 120)}\n`);
      }
    }
  };
  const fields: (keyof Window)[] = ['cpuMsPerRefresh', 'cpuMsPerLogin', 'refreshP50'];
  for (const server of servers) for (const field of fields) await again(() => measure[field](server)); // warm-up
  const empty = () => Object.fromEntries(fields.map((f) => [f, [] as number[]])) as Record<keyof Window, number[]>;
  const ratios = new Map(stores.map((store) => [store, empty()]));
  const values = new Map(stores.flatMap((store) => [[`${store} on`, empty()], [`${store} off`, empty()]]));
  // Each field's two windows run back to back (on then off, or off then on, alternating), so they meet the same machine.
  for (let pair = 0; pair < PAIRS; pair++) {
    for (const store of stores) {
      const on = servers.find((s) => s.name === `${store} limits on`)!;
      const off = servers.find((s) => s.name === `${store} limits off`)!;
      const line: string[] = [];
      for (const field of fields) {
        const first = pair % 2 === 0 ? on : off;
        const x = await again(() => measure[field](first));
        const y = await again(() => measure[field](first === on ? off : on));
        const [a, b] = first === on ? [x, y] : [y, x];
        ratios.get(store)![field].push(a / b);
        values.get(`${store} on`)![field].push(a);
        values.get(`${store} off`)![field].push(b);
        line.push(`${field} ${a.toFixed(3)}/${b.toFixed(3)}=${(a / b).toFixed(3)}`);
      }
      process.stderr.write(`  [${store} pair ${pair + 1}] ${line.join(' ')}\n`);
    }
  }
  await Promise.all([...agents.values()].map((a) => a.close()));

  const label: Record<keyof Window, [string, string]> = {
    cpuMsPerRefresh: ['CPU per refresh', 'ms'],
    cpuMsPerLogin: ['CPU per sign-in flow (argon2id included)', 'ms'],
    refreshP50: ['refresh_token grant latency p50, one request at a time', 'ms'],
  };
  const rows: BenchRow[] = stores.flatMap((store) =>
    fields.map((field) => {
      const r = median(ratios.get(store)![field]);
      return {
        metric: `${label[field][0]}, ${store} store: limits on vs off (median of ${PAIRS} pair ratios)`,
        unit: label[field][1],
        broker: median(values.get(`${store} on`)![field]),
        peer: median(values.get(`${store} off`)![field]),
        ratio: r,
        target: '<= 1.1x',
        met: r <= 1.1,
        note: `pair ratios ${ratios.get(store)![field].map((x) => x.toFixed(3)).join(' ')}`,
      };
    }),
  );
  emitResult({ scenario: 'rate-limit-cost', title: 'Rate limiter: cost on a refresh, a sign-in and refresh latency (the same broker, limits on vs off)', peer: 'the same broker with rateLimits.enabled false', method, rows });
});
