// Single-endpoint load: closed-loop GETs with wrk (when installed: a fixed duration, since wrk cannot stop at a count) or
// autocannon (a fixed count), and open-loop load at a fixed rate with autocannon (latency at a fraction of saturation).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import autocannon from 'autocannon';

const run = promisify(execFile);
const WRK_SCRIPT = fileURLToPath(new URL('./wrk-summary.lua', import.meta.url));

export interface LoadResult {
  requests: number;
  wallMs: number;
  /** Responses other than 2xx plus socket errors. */
  failures: number;
  p50Ms: number;
  p99Ms: number;
  tool: 'wrk' | 'autocannon';
}

let wrkAvailable: boolean | undefined;
export async function hasWrk(): Promise<boolean> {
  if (wrkAvailable === undefined) {
    wrkAvailable = process.env.BENCH_NO_WRK !== '1' && (await run('wrk', ['--version']).then(() => true, (error: { stdout?: string }) => /wrk/i.test(error.stdout ?? '')));
  }
  return wrkAvailable;
}

/**
 * GETs of `url` over `connections` keep-alive connections, as fast as the server answers: for `seconds` with wrk,
 * else `requests` of them with autocannon. Divide server CPU by the returned `requests`.
 */
export async function closedLoad(url: string, options: { requests: number; seconds: number; connections: number }): Promise<LoadResult> {
  const { requests, seconds, connections } = options;
  if (await hasWrk()) {
    const { stdout } = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', WRK_SCRIPT, url]);
    const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
    if (!line) throw new Error(`wrk printed no summary: ${stdout.slice(0, 300)}`);
    const r = JSON.parse(line.slice(9)) as { requests: number; durationUs: number; socketErrors: number; non2xx: number; p50Us: number; p99Us: number };
    return { requests: r.requests, wallMs: r.durationUs / 1000, failures: r.socketErrors + r.non2xx, p50Ms: r.p50Us / 1000, p99Ms: r.p99Us / 1000, tool: 'wrk' };
  }
  return autocannonLoad({ url, connections, amount: requests, pipelining: 1 });
}

/** Open-loop load: `rate` requests/s in total for `requests` requests (autocannon overallRate); latency percentiles. */
export async function rateLoad(url: string, rate: number, requests: number, connections: number): Promise<LoadResult> {
  return autocannonLoad({ url, connections, amount: requests, overallRate: Math.max(1, Math.round(rate)), pipelining: 1 });
}

/**
 * One autocannon run. Its wall time ends at the last response: autocannon itself finishes on its next one-second tick,
 * so timing the whole run rounded every rate to 20,000 requests per 1, 2, 3 or 4 whole seconds.
 */
function autocannonLoad(options: autocannon.Options): Promise<LoadResult> {
  const t0 = performance.now();
  let lastResponse = t0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => {
      if (error) return reject(error);
      resolve({ requests: result.requests.total, wallMs: lastResponse - t0, failures: result.non2xx + result.errors, p50Ms: result.latency.p50, p99Ms: result.latency.p99, tool: 'autocannon' });
    });
    instance.on('response', () => {
      lastResponse = performance.now();
    });
  });
}
