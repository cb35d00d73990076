// The soak engine: two broker processes on one private Redis behind a test load balancer, a mixed load (local and federated sign-ins, refresh, userinfo, introspection), figures per window.
import { spawnSync } from 'node:child_process';
import * as oidc from 'openid-client';
import { Browser } from '../../test/helpers/browser.js';
import { TEST_CLIENT } from '../../test/helpers/broker.js';
import { startRedisServer } from '../../test/helpers/redis.js';
import { authorizationRequest, completeLogin, discoverRp, loginAndExchange } from '../../test/helpers/rp.js';
import { freeLoopbackPort, startTestUpstream } from '../../test/helpers/upstream-oidc.js';
import { localProvider } from '../../test/helpers/broker.js';
import { brokerProcess, killAllBrokerProcesses, writeSharedConfig, type BrokerProcess } from '../../test/reliability/broker-process.js';
import { startFrontProxy } from '../../test/reliability/front-proxy.js';
import { keepAliveAgent, NoAnswer } from '../../test/reliability/keep-alive-client.js';
import { callOnce, type Held, type Operation } from '../../test/reliability/token-load.js';

export type SoakOperation = Operation | 'local-sign-in' | 'federated-sign-in';

export interface SoakOptions {
  durationMs: number;
  windowMs: number;
  /** Samples before this are left out of the memory slopes. */
  warmupMs: number;
  /** Clients calling at the same time. */
  concurrency: number;
  /** Token and session lifetimes (seconds): short, so that sessions reach their steady state within the warm-up. */
  lifetimeSeconds: number;
  /** Progress lines (one per window). */
  log?: (line: string) => void;
}

export interface WindowFigures {
  /** Seconds from the start at the window's end. */
  endS: number;
  operations: Record<string, { count: number; p50Ms: number; p99Ms: number }>;
  errors5xx: number;
  wrong: number;
}

export interface SoakReport {
  options: Omit<SoakOptions, 'log'>;
  windows: WindowFigures[];
  total: { requests: number; errors5xx: number; wrong: number; noAnswer: number; wrongSamples: string[] };
  /**
   * Bytes per minute after warm-up (least squares), and the mean, per instance heap and for Redis. `heapFloor` fits the
   * lowest sample of each bucket of six samples instead: raw used-heap samples land anywhere on the GC sawtooth, the
   * floor is what survives collection, so its slope is the one that shows a leak.
   */
  memory: { heap: Slope[]; heapFloor: Slope[]; redis: Slope };
  samples: { atS: number; heap: number[]; redis: number }[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Slope {
  slopeBytesPerMin: number;
  meanBytes: number;
}

/** The lowest point of each run of `size` consecutive points (the last, shorter run included). */
function floors(points: { x: number; y: number }[], size: number): { x: number; y: number }[] {
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < points.length; i += size) {
    const bucket = points.slice(i, i + size);
    out.push(bucket.reduce((low, point) => (point.y < low.y ? point : low)));
  }
  return out;
}

function slope(points: { x: number; y: number }[]): Slope {
  const n = points.length;
  if (n < 2) return { slopeBytesPerMin: 0, meanBytes: points[0]?.y ?? 0 };
  const mx = points.reduce((sum, p) => sum + p.x, 0) / n;
  const my = points.reduce((sum, p) => sum + p.y, 0) / n;
  const sxy = points.reduce((sum, p) => sum + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((sum, p) => sum + (p.x - mx) ** 2, 0);
  return { slopeBytesPerMin: sxx === 0 ? 0 : (sxy / sxx) * 60, meanBytes: my };
}

async function heapUsed(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)/m.exec(text)?.[1] ?? NaN);
}

function redisUsedMemory(port: number): number {
  const info = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'INFO', 'memory'], { encoding: 'utf8' }).stdout;
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const redis = await startRedisServer();
  const proxy = await startFrontProxy();
  const upstream = await startTestUpstream({ brokerIssuer: proxy.url, connectorId: 'acme' });
  const instances: BrokerProcess[] = [];
  const metricsPorts: number[] = [];
  try {
    const ttl = options.lifetimeSeconds;
    const file = await writeSharedConfig({
      issuer: proxy.url,
      redisUrl: redis.url,
      prefix: 'vestibule:',
      providers: [await localProvider(), { id: 'acme', type: 'oidc', name: 'ACME SSO', domains: ['acme.test'], config: upstream.connectorConfig() }],
      extra: {
        logLevel: 'warn',
        metrics: { enabled: true, host: '127.0.0.1' },
        tokens: { accessTokenTtl: ttl, idTokenTtl: ttl, refreshTokenTtl: ttl, sessionTtl: ttl, interactionTtl: ttl, authorizationCodeTtl: 60 },
      },
    });
    for (let i = 0; i < 2; i += 1) {
      const metricsPort = await freeLoopbackPort();
      metricsPorts.push(metricsPort);
      instances.push(brokerProcess(file, await freeLoopbackPort(), { METRICS_PORT: String(metricsPort) }));
    }
    await Promise.all(instances.map((instance) => instance.start()));
    proxy.setBackends(instances.map((instance) => instance.port));
    const rp = await discoverRp(proxy.url);

    const latencies = new Map<SoakOperation, number[]>();
    let windowStats = { errors5xx: 0, wrong: 0 };
    const total = { requests: 0, errors5xx: 0, wrong: 0, noAnswer: 0, wrongSamples: [] as string[] };
    const record = (op: SoakOperation, ms: number, status: number, ok: boolean, detail: string) => {
      total.requests += 1;
      (latencies.get(op) ?? latencies.set(op, []).get(op)!).push(ms);
      if (status >= 500) {
        total.errors5xx += 1;
        windowStats.errors5xx += 1;
      }
      if (!ok) {
        total.wrong += 1;
        windowStats.wrong += 1;
        if (total.wrongSamples.length < 20) total.wrongSamples.push(`${op} ${status} ${detail.slice(0, 160)}`);
      }
    };

    const localSignIn = async (): Promise<Held> => {
      const started = performance.now();
      const { tokens } = await loginAndExchange(proxy.url, { params: { scope: 'openid email offline_access', prompt: 'consent', idp_hint: 'local' } });
      record('local-sign-in', performance.now() - started, 200, true, '');
      return { refreshToken: tokens.refresh_token!, accessToken: tokens.access_token, sub: tokens.claims()!.sub };
    };
    const federatedSignIn = async (): Promise<Held> => {
      const started = performance.now();
      const request = await authorizationRequest(rp, TEST_CLIENT, { scope: 'openid email offline_access', prompt: 'consent', idp_hint: 'acme' });
      const browser = new Browser();
      const atUpstream = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
      const back = await browser.submit(atUpstream, '/login', { username: 'alice', password: 'alice-pw' }, TEST_CLIENT.redirectUri);
      const callback = await completeLogin(browser, back, TEST_CLIENT.redirectUri);
      const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
      record('federated-sign-in', performance.now() - started, 200, true, '');
      return { refreshToken: tokens.refresh_token!, accessToken: tokens.access_token, sub: tokens.claims()!.sub };
    };

    const started = Date.now();
    const deadline = started + options.durationMs;
    const windows: WindowFigures[] = [];
    const samples: SoakReport['samples'] = [];
    // Each client holds a session and replaces it at half its lifetime with a new sign-in (one in five federated).
    const worker = async (index: number) => {
      const agent = keepAliveAgent();
      let held: Held | undefined;
      let heldSince = 0;
      let signIns = 0;
      const mix: Operation[] = ['refresh', 'userinfo', 'introspection', 'userinfo', 'introspection'];
      for (let round = index; Date.now() < deadline; round += 1) {
        let attempt: SoakOperation = mix[round % mix.length]!;
        try {
          if (!held || Date.now() - heldSince > (ttl * 1000) / 2) {
            signIns += 1;
            attempt = (signIns + index) % 5 === 0 ? 'federated-sign-in' : 'local-sign-in';
            held = attempt === 'federated-sign-in' ? await federatedSignIn() : await localSignIn();
            heldSince = Date.now();
            continue;
          }
          const result = await callOnce(attempt as Operation, proxy.url, agent, held);
          record(result.op, result.ms, result.status, result.ok, result.detail);
        } catch (error) {
          // No answer, or a sign-in that did not finish: wrong, and the client starts over with a new sign-in.
          if (error instanceof NoAnswer) total.noAnswer += 1;
          record(attempt, 0, 0, false, `${error instanceof Error ? error.message : String(error)}`);
          held = undefined;
        }
      }
    };
    const sampler = (async () => {
      while (Date.now() < deadline) {
        const heap = await Promise.all(metricsPorts.map(heapUsed));
        samples.push({ atS: (Date.now() - started) / 1000, heap, redis: redisUsedMemory(redis.port) });
        await sleep(Math.min(10_000, options.windowMs / 2));
      }
    })();
    const windower = (async () => {
      for (let end = started + options.windowMs; end <= deadline + 1; end += options.windowMs) {
        await sleep(Math.max(0, end - Date.now()));
        const operations: WindowFigures['operations'] = {};
        for (const [op, values] of latencies) {
          const sorted = [...values].sort((a, b) => a - b);
          operations[op] = { count: sorted.length, p50Ms: Math.round(percentile(sorted, 50) * 10) / 10, p99Ms: Math.round(percentile(sorted, 99) * 10) / 10 };
        }
        latencies.clear();
        windows.push({ endS: Math.round((end - started) / 1000), operations, ...windowStats });
        windowStats = { errors5xx: 0, wrong: 0 };
        const line = Object.entries(operations).map(([op, f]) => `${op} ${f.count} p50 ${f.p50Ms} p99 ${f.p99Ms}`).join('; ');
        log(`[${windows.at(-1)!.endS}s] ${line}; 5xx ${windows.at(-1)!.errors5xx}, wrong ${windows.at(-1)!.wrong}`);
      }
    })();
    await Promise.all([...Array.from({ length: options.concurrency }, (_, i) => worker(i)), sampler, windower]);

    const steady = samples.filter((sample) => sample.atS * 1000 >= options.warmupMs);
    return {
      options: { durationMs: options.durationMs, windowMs: options.windowMs, warmupMs: options.warmupMs, concurrency: options.concurrency, lifetimeSeconds: options.lifetimeSeconds },
      windows,
      total,
      memory: {
        heap: metricsPorts.map((_, i) => slope(steady.map((sample) => ({ x: sample.atS, y: sample.heap[i]! })))),
        heapFloor: metricsPorts.map((_, i) => slope(floors(steady.map((sample) => ({ x: sample.atS, y: sample.heap[i]! })), 6))),
        redis: slope(steady.map((sample) => ({ x: sample.atS, y: sample.redis }))),
      },
      samples,
    };
  } finally {
    await killAllBrokerProcesses();
    await proxy.close();
    await upstream.close();
    await redis.destroy();
  }
}

/** The report as Markdown: memory slopes, then p50/p99 per operation per window. */
export function soakMarkdown(report: SoakReport): string {
  const ops = [...new Set(report.windows.flatMap((w) => Object.keys(w.operations)))];
  const percent = (m: Slope) => ((m.slopeBytesPerMin * 10 * 100) / m.meanBytes).toFixed(2);
  // The heap's floor (its lowest sample) per window: used-heap samples land anywhere on the GC sawtooth, the floor is what survives collection.
  const perWindow = report.windows.map((w) => {
    const inside = report.samples.filter((sample) => sample.atS <= w.endS && sample.atS > w.endS - report.options.windowMs / 1000);
    const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
    const heapFloor = report.memory.heap.map((_, i) => mib(Math.min(...inside.map((sample) => sample.heap[i]!))));
    const redisMean = inside.length ? mib(inside.reduce((sum, sample) => sum + sample.redis, 0) / inside.length) : '–';
    return `${heapFloor.join(' / ')} | ${redisMean}`;
  });
  const lines = [
    `Soak: ${report.options.durationMs / 60_000} min, ${report.options.concurrency} clients, lifetimes ${report.options.lifetimeSeconds} s, windows ${report.options.windowMs / 1000} s, warm-up ${report.options.warmupMs / 1000} s`,
    `Requests ${report.total.requests}, 5xx ${report.total.errors5xx}, wrong answers ${report.total.wrong}, no answer ${report.total.noAnswer}`,
    ...report.memory.heapFloor.map((m, i) => `Heap floor of instance ${i + 1} (lowest of every 6 samples): ${Math.round(m.slopeBytesPerMin)} B/min after warm-up (mean ${(m.meanBytes / 1048576).toFixed(1)} MiB; ${percent(m)}% per 10 min)`),
    ...report.memory.heap.map((m, i) => `Heap of instance ${i + 1}, every sample: ${Math.round(m.slopeBytesPerMin)} B/min after warm-up (mean ${(m.meanBytes / 1048576).toFixed(1)} MiB; ${percent(m)}% per 10 min)`),
    `Redis used_memory: ${Math.round(report.memory.redis.slopeBytesPerMin)} B/min after warm-up (mean ${(report.memory.redis.meanBytes / 1048576).toFixed(2)} MiB; ${percent(report.memory.redis)}% per 10 min)`,
    '',
    `| Window end (s) | ${ops.map((op) => `${op} p50 / p99 ms (n)`).join(' | ')} | 5xx | heap floor per instance (MiB) | Redis mean (MiB) |`,
    `|---|${ops.map(() => '---').join('|')}|---|---|---|`,
    ...report.windows.map((w, i) => `| ${w.endS} | ${ops.map((op) => (w.operations[op] ? `${w.operations[op]!.p50Ms} / ${w.operations[op]!.p99Ms} (${w.operations[op]!.count})` : '–')).join(' | ')} | ${w.errors5xx} | ${perWindow[i]} |`),
  ];
  const first = report.windows[0];
  const last = report.windows.at(-1);
  if (first && last && first !== last) {
    lines.push('', 'p99 of the last window / the first:');
    for (const op of ops) if (first.operations[op] && last.operations[op]) lines.push(`- ${op}: ${(last.operations[op]!.p99Ms / first.operations[op]!.p99Ms).toFixed(2)}x`);
  }
  return lines.join('\n');
}
