// Scenario scaffolding: pin the load generator, scale counts (BENCH_SCALE / BENCH_REPEATS), alternate broker and peer runs
// across repeats, take medians, and always stop the servers.
import { loadavg } from 'node:os';
import { hashPassword } from '../../src/connectors/local.js';
import type { ServerChild } from './child.js';
import { pinSelf } from './pin.js';
import { BENCH_USER } from './settings.js';
import { median } from './stats.js';

/** Repeats per measurement (at least 3). */
export const REPEATS = Math.max(3, Number(process.env.BENCH_REPEATS ?? 3) || 3);
/** Multiplies every request count (e.g. 0.2 for a quick smoke run); figures from scaled runs are noisier. */
export const SCALE = Number(process.env.BENCH_SCALE ?? 1) || 1;

/** A request count scaled by BENCH_SCALE (never below `min`). */
export function count(base: number, min = 10): number {
  return Math.max(min, Math.round(base * SCALE));
}

/** Pins this process to the load-generator core; returns the method facts every scenario reports. */
export function prepare(): Record<string, unknown> {
  const pinned = pinSelf();
  return { pinned, serverCore: pinned ? 0 : 'any', loadgenCore: pinned ? 1 : 'any', repeats: REPEATS, scale: SCALE, loadavgAtStart: loadavg().map((l) => Math.round(l * 100) / 100) };
}

let cachedHash: Promise<string> | undefined;
/** The argon2id hash of BENCH_USER's password with the local connector's production parameters. */
export function benchPasswordHash(): Promise<string> {
  cachedHash ??= hashPassword(BENCH_USER.password);
  return cachedHash;
}

/**
 * Runs `measure` `repeats` times (default REPEATS) for every server, alternating their order each repeat (A B, B A, ...),
 * and returns the per-server list of samples. A sample is any record of numbers; medians are taken per field.
 */
export async function alternate<S extends Record<string, number>>(servers: ServerChild[], measure: (server: ServerChild, repeat: number) => Promise<S>, repeats = REPEATS): Promise<Map<string, S[]>> {
  const samples = new Map<string, S[]>(servers.map((s) => [s.name, []]));
  for (let repeat = 0; repeat < repeats; repeat++) {
    const order = repeat % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      const sample = await measure(server, repeat);
      samples.get(server.name)!.push(sample);
      process.stderr.write(`  [${server.name} #${repeat + 1}] ${Object.entries(sample).map(([k, v]) => `${k}=${Math.round(v * 100) / 100}`).join(' ')}\n`);
    }
  }
  return samples;
}

/** Median of one field across samples. */
export function medianOf<S extends Record<string, number>>(samples: S[] | undefined, field: keyof S): number {
  return median((samples ?? []).map((s) => s[field] as number));
}

/** Runs the scenario body and stops every server it started, even on failure; exits non-zero on error. */
export async function runScenario(body: (servers: ServerChild[]) => Promise<void>): Promise<void> {
  const servers: ServerChild[] = [];
  try {
    await body(servers);
  } catch (error) {
    process.stderr.write(`${(error as Error).stack ?? error}\n`);
    for (const server of servers) if (server.recentStderr()) process.stderr.write(`--- ${server.name} stderr ---\n${server.recentStderr()}\n`);
    process.exitCode = 1;
  } finally {
    await Promise.all(servers.map((server) => server.stop().catch(() => undefined)));
  }
}
