// BENCH_CPU_PROF=<dir>: a server child profiles only the measured windows (V8 CPU profile + allocation sampling), started and stopped over IPC by measureCpu.
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

let session: Session | undefined;
let windows = 0;

/** Handles the profiler's IPC commands in a server child; undefined when `cmd` is not one of them. */
export function profilerCommand(cmd: string): Promise<unknown> | undefined {
  if (cmd === 'profile-start') return start();
  if (cmd === 'profile-stop') return stop();
  return undefined;
}

async function start(): Promise<boolean> {
  session ??= new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return true;
}

/** Writes the window's CPU profile and allocation sampling as <dir>/window-<pid>-<n>.{cpuprofile,heapprofile}; answers the base path. */
async function stop(): Promise<string | null> {
  if (!session) return null;
  const { profile } = await session.post('Profiler.stop');
  const { profile: heap } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  const base = join(process.env.BENCH_CPU_PROF ?? '.', `window-${process.pid}-${++windows}`);
  await writeFile(`${base}.cpuprofile`, JSON.stringify(profile));
  await writeFile(`${base}.heapprofile`, JSON.stringify(heap));
  return base;
}
