// Starts a benchmark server (bench/lib/server-main.ts, or a scenario's own entry) in a child process pinned to the server core, and talks to it over IPC.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { processCpuMs } from './cpu.js';
import { pinnedCommand, SERVER_CORE } from './pin.js';
import type { ReadyLine, ServerSpec } from './spec.js';

export const SERVER_MAIN = fileURLToPath(new URL('./server-main.ts', import.meta.url));

export interface MemoryReport {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  gc: boolean;
}

/** A scenario's own server entry: the file, and the environment variable its spec travels in as JSON. */
export interface ServerEntry {
  file: string;
  specEnv: string;
  /** 'node': the file is plain JavaScript (see compiled.ts), run without tsx. Default: TypeScript through tsx. */
  runtime?: 'tsx' | 'node';
}

const DEFAULT_ENTRY: ServerEntry = { file: SERVER_MAIN, specEnv: 'BENCH_SERVER_SPEC' };

export class ServerChild<R extends ReadyLine = ReadyLine> {
  private nextId = 1;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private stderr = '';
  readonly url: string;
  readonly pid: number;

  private constructor(
    readonly name: string,
    /** The server's first stdout line (port, pid, and whatever else its entry reports). */
    readonly ready: R,
    private readonly child: ChildProcess,
  ) {
    this.url = `http://127.0.0.1:${ready.port}`;
    this.pid = ready.pid;
    child.on('message', (message: { id: number; result: unknown }) => {
      this.pending.get(message.id)?.(message.result);
      this.pending.delete(message.id);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
  }

  /** Spawns the server and waits for its ReadyLine. */
  static async start<R extends ReadyLine = ReadyLine>(name: string, spec: ServerSpec | object, timeoutMs = 60_000, entry: ServerEntry = DEFAULT_ENTRY): Promise<ServerChild<R>> {
    const loader = entry.runtime === 'node' ? [] : ['--import', 'tsx'];
    const [command, ...args] = pinnedCommand(SERVER_CORE, [process.execPath, '--expose-gc', ...loader, entry.file]);
    const child = spawn(command!, args, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, [entry.specEnv]: JSON.stringify(spec), NODE_ENV: 'development' },
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const ready = await new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: not ready after ${timeoutMs} ms\n${stderr}`)), timeoutMs);
      child.once('exit', (code) => reject(new Error(`${name}: exited with ${code} before ready\n${stderr}`)));
      createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line) as R);
        } catch {
          reject(new Error(`${name}: unexpected first line ${line.slice(0, 200)}\n${stderr}`));
        }
      });
    });
    child.removeAllListeners('exit');
    child.stdout!.resume();
    return new ServerChild<R>(name, ready, child);
  }

  /** CPU ms the server has used so far (all threads). */
  cpuMs(): number {
    return processCpuMs(this.pid);
  }

  /** Sends an IPC command the server's entry understands and waits for its answer. */
  ask<T>(cmd: string): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve) => {
      this.pending.set(id, resolve as (result: unknown) => void);
      this.child.send({ id, cmd });
    });
  }

  /** process.memoryUsage() of the server after two forced GCs. */
  memory(): Promise<MemoryReport> {
    return this.ask<MemoryReport>('memory');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.ask('exit').catch(() => undefined);
    await exited;
    clearTimeout(timer);
  }

  /** Last lines the server wrote to stderr (for error messages). */
  recentStderr(): string {
    return this.stderr;
  }
}

/**
 * CPU ms a server spends while `work` runs, with the work's own result. With BENCH_CPU_PROF=<dir> the server also
 * writes a V8 CPU profile of this window there (window-<pid>-<n>.cpuprofile; the figures then include the profiler's cost).
 */
export async function measureCpu<T>(server: ServerChild, work: () => Promise<T>): Promise<{ cpuMs: number; wallMs: number; result: T }> {
  const profiling = Boolean(process.env.BENCH_CPU_PROF);
  if (profiling) await server.ask('profile-start');
  const cpu0 = server.cpuMs();
  const t0 = performance.now();
  const result = await work();
  const wallMs = performance.now() - t0;
  const cpuMs = server.cpuMs() - cpu0;
  if (profiling) process.stderr.write(`  [${server.name}] profile: ${await server.ask<string>('profile-stop')}\n`);
  return { cpuMs, wallMs, result };
}
