// CPU pinning with taskset: servers on core 0, the load generator (this process) on core 1, when taskset and 2+ cores exist.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';

export const SERVER_CORE = 0;
export const LOADGEN_CORE = 1;

let available: boolean | undefined;

/**
 * True when `taskset` runs here and the machine has at least two cores to split. The machine's cores, not this
 * process's: run-all starts each scenario already pinned to the load-generator core, where availableParallelism() is 1
 * (it counts the affinity), and the servers would then have run on the load generator's core too.
 */
export function canPin(): boolean {
  if (available === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      available = cpus().length >= 2 && process.env.BENCH_NO_PIN !== '1';
    } catch {
      available = false;
    }
  }
  return available;
}

/** Pins every thread of this process (the load generator) to LOADGEN_CORE; returns whether it did. */
export function pinSelf(): boolean {
  if (!canPin()) return false;
  execFileSync('taskset', ['-a', '-p', '-c', String(LOADGEN_CORE), String(process.pid)], { stdio: 'ignore' });
  return true;
}

/** The command line that runs `argv` pinned to `core` (unchanged when pinning is unavailable). */
export function pinnedCommand(core: number, argv: string[]): string[] {
  return canPin() ? ['taskset', '-c', String(core), ...argv] : argv;
}
