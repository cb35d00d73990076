// The one worker_threads pool for CPU-heavy SAML work (Response verification, XSD validation), off the event loop.
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ConnectorError } from './connector.js';
import type { ResponseCheckOptions, VerifiedAssertion } from './saml-response.js';

/** What verifyLoginResponse needs, as plain data (the schema check is a flag: it runs inside the worker). */
export type VerifyOptions = Omit<ResponseCheckOptions, 'validateSchema'>;

export type WorkerRequest =
  | { id: number; kind: 'verify'; xml: string; options: VerifyOptions; schema: boolean }
  | { id: number; kind: 'validate'; xml: string }
  | { warmSchema: true };

export type WorkerReply =
  | { ready: true }
  | { id: number; verified?: VerifiedAssertion; error?: { code: string; detail: string; status: number } | { message: string } };

export interface SamlWorkerPoolOptions {
  /** Per-job time limit once a worker has it (default 10 s); the worker is then replaced. */
  jobTimeoutMs?: number;
  /** Jobs waiting for a free worker beyond this are refused with saml_busy (503). */
  maxQueue?: number;
  /** Load and warm the XSD validator in every worker before it takes jobs (else on the first schema job). */
  schema?: boolean;
}

export interface SamlWorkerPoolStats {
  workers: number;
  queued: number;
  /** Jobs answered (valid or not). */
  validated: number;
}

type Request = Exclude<WorkerRequest, { warmSchema: true }>;
type Payload = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

interface Job {
  id: number;
  payload: Payload;
  resolve: (verified: VerifiedAssertion | undefined) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job;
  timer?: NodeJS.Timeout;
}

const unavailable = (detail: string) => new ConnectorError('saml_unavailable', detail, { status: 503 });

/**
 * A TS source tree (tsx, vitest) loads the worker's own modules through tsx's require hook, then removes the hook so
 * what loads later (libxml2-wasm, imported natively) is not transformed; the built tree imports the .js file.
 */
function workerSource(): string {
  const file = fileURLToPath(import.meta.url).replace(/saml-worker-pool\.(ts|js)$/, (_m, ext: string) => `saml-worker.${ext}`);
  return file.endsWith('.ts')
    ? `const unregister = require('tsx/cjs/api').register(); require(${JSON.stringify(file)}); unregister();`
    : `import(${JSON.stringify(pathToFileURL(file).href)});`;
}

/** A fixed-size pool; every job runs in a worker that has warmed up; a worker death rejects its job and is replaced. */
export class SamlWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly jobTimeoutMs: number;
  private readonly maxQueue: number;
  private readonly source = workerSource();
  private schema: boolean;
  private nextId = 1;
  private answered = 0;
  private closed = false;

  constructor(size: number, options: SamlWorkerPoolOptions = {}) {
    this.jobTimeoutMs = options.jobTimeoutMs ?? 10_000;
    this.maxQueue = options.maxQueue ?? 256;
    this.schema = options.schema ?? false;
    for (let i = 0; i < Math.max(1, size); i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(this.source, { eval: true, workerData: { schema: this.schema }, stdout: true, stderr: true });
    worker.unref();
    worker.stdout.resume();
    worker.stderr.resume();
    const slot: Slot = { worker, ready: false };
    worker.on('message', (reply: WorkerReply) => {
      if ('ready' in reply) {
        slot.ready = true;
        this.pump();
        return;
      }
      const job = slot.job;
      if (!job || job.id !== reply.id) return;
      this.finish(slot);
      this.answered++;
      const error = reply.error;
      if (!error) job.resolve(reply.verified);
      else if ('code' in error) job.reject(new ConnectorError(error.code, error.detail, { status: error.status }));
      else job.reject(new Error(error.message));
      this.pump();
    });
    const onDeath = (reason: string): void => {
      const job = slot.job;
      this.finish(slot);
      job?.reject(unavailable(`SAML worker stopped (${reason})`));
      if (this.closed || !this.slots.includes(slot)) return;
      // A worker that dies before it is ready (broken install) is retried once a second, not in a hot loop.
      if (slot.ready) this.replace(slot);
      else setTimeout(() => this.replace(slot), 1000).unref();
    };
    worker.on('error', (error) => onDeath(error.message));
    worker.on('exit', (code) => onDeath(`exit ${code}`));
    return slot;
  }

  private finish(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.job = undefined;
    slot.timer = undefined;
  }

  private replace(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots[index] = this.spawn();
    slot.worker.removeAllListeners('exit');
    slot.worker.removeAllListeners('error');
    slot.worker.on('error', () => undefined);
    void slot.worker.terminate();
    this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.job || !slot.ready) continue;
      const job = this.queue.shift();
      if (!job) return;
      slot.job = job;
      slot.timer = setTimeout(() => {
        this.finish(slot);
        job.reject(unavailable(`SAML worker job timed out after ${this.jobTimeoutMs} ms`));
        this.replace(slot);
      }, this.jobTimeoutMs);
      slot.timer.unref();
      slot.worker.postMessage({ ...job.payload, id: job.id } as WorkerRequest);
    }
  }

  private submit(payload: Payload): Promise<VerifiedAssertion | undefined> {
    if (this.closed) return Promise.reject(unavailable('the SAML worker pool is closed'));
    if (this.queue.length >= this.maxQueue) return Promise.reject(new ConnectorError('saml_busy', 'too many SAML messages waiting for verification', { status: 503 }));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, payload, resolve, reject });
      this.pump();
    });
  }

  /** Every worker loads the XSD validator (once) and takes no job until it has. */
  enableSchema(): void {
    if (this.schema) return;
    this.schema = true;
    for (const slot of this.slots) {
      slot.ready = false;
      slot.worker.postMessage({ warmSchema: true } satisfies WorkerRequest);
    }
  }

  /** Verifies a decoded login Response (see verifyLoginResponse); rejects with the same ConnectorErrors. */
  async verify(xml: string, options: VerifyOptions, schema: boolean): Promise<VerifiedAssertion> {
    if (schema) this.enableSchema();
    return (await this.submit({ kind: 'verify', xml, options, schema }))!;
  }

  /** XSD validation only; rejects with ConnectorError('saml_schema_invalid') on invalid XML. */
  async validate(xml: string): Promise<void> {
    this.enableSchema();
    await this.submit({ kind: 'validate', xml });
  }

  stats(): SamlWorkerPoolStats {
    return { workers: this.slots.length, queued: this.queue.length, validated: this.answered };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(unavailable('the SAML worker pool is closed'));
    await Promise.all(
      this.slots.splice(0).map((slot) => {
        slot.worker.removeAllListeners('exit');
        const job = slot.job;
        this.finish(slot);
        job?.reject(unavailable('the SAML worker pool is closed'));
        return slot.worker.terminate();
      }),
    );
  }
}

/** Default size: half the cores, at least 1, at most 4. */
export const defaultPoolSize = (): number => Math.min(4, Math.max(1, Math.floor(availableParallelism() / 2)));

let shared: { pool: SamlWorkerPool; users: number } | undefined;

/** The process-wide pool shared by every SAML connector. */
export function acquireSamlPool(): SamlWorkerPool {
  if (!shared) shared = { pool: new SamlWorkerPool(defaultPoolSize()), users: 0 };
  shared.users++;
  return shared.pool;
}

/** The shared pool's figures (metrics), or undefined when no SAML connector holds it. */
export function samlPoolStats(): SamlWorkerPoolStats | undefined {
  return shared?.pool.stats();
}

export async function releaseSamlPool(pool: SamlWorkerPool): Promise<void> {
  if (!shared || shared.pool !== pool) return;
  if (--shared.users <= 0) {
    shared = undefined;
    await pool.close();
  }
}
