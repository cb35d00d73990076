// Starts a benchmark server (bench/lib/server-main.ts) in a child process pinned to the server core, and talks to it over IPC.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { processCpuMs } from './cpu.js';
import { pinnedCommand, SERVER_CORE } from './pin.js';
import type { ReadyLine, ServerSpec } from './spec.js';

const SERVER_MAIN = fileURLToPath(new URL('./server-main.ts', import.meta.url));

export interface MemoryReport {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  gc: boolean;
}

export class ServerChild {
  private nextId = 1;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private stderr = '';

  private constructor(
    readonly name: string,
    readonly url: string,
    readonly pid: number,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: { id: number; result: unknown }) => {
      this.pending.get(message.id)?.(message.result);
      this.pending.delete(message.id);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
  }

  /** Spawns the server and waits for its ReadyLine. */
  static async start(name: string, spec: ServerSpec, timeoutMs = 60_000): Promise<ServerChild> {
    // BENCH_CPU_PROF=<dir>: every server writes a V8 CPU profile there when it exits (open it in Chrome DevTools).
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
    const [command, ...args] = pinnedCommand(SERVER_CORE, [process.execPath, '--expose-gc', ...profile, '--import', 'tsx', SERVER_MAIN]);
    const child = spawn(command!, args, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, BENCH_SERVER_SPEC: JSON.stringify(spec), NODE_ENV: 'development' },
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const ready = await new Promise<ReadyLine>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: not ready after ${timeoutMs} ms\n${stderr}`)), timeoutMs);
      child.once('exit', (code) => reject(new Error(`${name}: exited with ${code} before ready\n${stderr}`)));
      createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line) as ReadyLine);
        } catch {
          reject(new Error(`${name}: unexpected first line ${line.slice(0, 200)}\n${stderr}`));
        }
      });
    });
    child.removeAllListeners('exit');
    child.stdout!.resume();
    return new ServerChild(name, `http://127.0.0.1:${ready.port}`, ready.pid, child);
  }

  /** CPU ms the server has used so far (all threads). */
  cpuMs(): number {
    return processCpuMs(this.pid);
  }

  private ask<T>(cmd: string): Promise<T> {
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

/** CPU ms a server spends while `work` runs, with the work's own result. */
export async function measureCpu<T>(server: ServerChild, work: () => Promise<T>): Promise<{ cpuMs: number; wallMs: number; result: T }> {
  const cpu0 = server.cpuMs();
  const t0 = performance.now();
  const result = await work();
  const wallMs = performance.now() - t0;
  return { cpuMs: server.cpuMs() - cpu0, wallMs, result };
}
