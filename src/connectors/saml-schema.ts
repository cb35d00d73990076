// Offline XSD validation of SAML messages (xmllint compiled to JS) in a small worker_threads pool, off the event loop.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ConnectorError } from './connector.js';

const require = createRequire(import.meta.url);

/**
 * The worker runs node-xmllint with the SAML 2.0 protocol/assertion, xmldsig and xenc schemas (the set samlify's
 * validator uses). The emscripten build writes to stdout, leaks process listeners on every run and may call
 * process.exit: inside a worker that only ends the worker. A worker warms up (~6 s of CPU: the first run compiles the asm.js)
 * before it takes jobs, and is recycled after RECYCLE_AFTER jobs.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
console.log = () => {};
console.error = () => {};
const xmllint = require(workerData.xmllintPath);
const load = (name) => require(workerData.schemaDir + '/' + name).default;
const assertion = load('saml-schema-assertion-2.0.xsd').replace('xmldsig-core-schema.xsd', 'file_1.xsd').replace('xenc-schema.xsd', 'file_2.xsd');
const dsig = load('xmldsig-core-schema.xsd');
const xenc = load('xenc-schema.xsd').replace('xmldsig-core-schema.xsd', 'file_1.xsd');
const protocol = load('saml-schema-protocol-2.0.xsd').replace('saml-schema-assertion-2.0.xsd', 'file_0.xsd').replace('xmldsig-core-schema.xsd', 'file_1.xsd');
const schema = [assertion, dsig, xenc, protocol];
const cleanUp = () => {
  process.removeAllListeners('uncaughtException');
  if (process.stdout) process.stdout.removeAllListeners('drain');
};
// Warm-up: the first run compiles ~4 MB of asm.js (hundreds of ms); do it before any real message arrives.
try { xmllint.validateXML({ xml: '<x/>', schema }); } catch {}
cleanUp();
parentPort.postMessage({ ready: true });
parentPort.on('message', ({ id, xml }) => {
  let errors = null;
  try {
    errors = xmllint.validateXML({ xml, schema }).errors;
  } catch (error) {
    errors = [String(error && error.message || error)];
  }
  cleanUp();
  parentPort.postMessage({ id, errors: errors ? errors.slice(0, 3).map((e) => String(e).slice(0, 300)) : null });
});
`;

const RECYCLE_AFTER = 20_000;
const JOB_TIMEOUT_MS = 10_000;
const MAX_QUEUE = 256;

interface Job {
  id: number;
  xml: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job;
  timer?: NodeJS.Timeout;
  done: number;
}

export interface SchemaPoolStats {
  workers: number;
  queued: number;
  validated: number;
}

/** A fixed-size pool; callers get a promise that rejects with ConnectorError('saml_schema_invalid') on invalid XML. */
export class SchemaValidatorPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private validated = 0;
  private closed = false;
  private readonly workerData: { xmllintPath: string; schemaDir: string };

  constructor(size: number) {
    const validatorEntry = require.resolve('@authenio/samlify-node-xmllint');
    const fromValidator = createRequire(validatorEntry);
    this.workerData = { xmllintPath: fromValidator.resolve('node-xmllint'), schemaDir: join(dirname(validatorEntry), 'schemas') };
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.workerData, stdout: true, stderr: true });
    worker.unref();
    worker.stdout.resume();
    worker.stderr.resume();
    const slot: Slot = { worker, ready: false, done: 0 };
    worker.on('message', (message: { id: number; errors: string[] | null; ready?: boolean }) => {
      if (message.ready) {
        slot.ready = true;
        this.pump();
        return;
      }
      const job = slot.job;
      if (!job || job.id !== message.id) return;
      this.finish(slot);
      if (message.errors) job.reject(new ConnectorError('saml_schema_invalid', `the message is not schema-valid: ${message.errors.join(' | ')}`));
      else job.resolve();
      this.validated++;
      if (++slot.done >= RECYCLE_AFTER) this.replace(slot);
      else this.pump();
    });
    const onDeath = (reason: string): void => {
      const job = slot.job;
      this.finish(slot);
      job?.reject(new ConnectorError('saml_schema_unavailable', `schema validator stopped (${reason})`, { status: 503 }));
      if (!this.closed && this.slots.includes(slot)) this.replace(slot);
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
        job.reject(new ConnectorError('saml_schema_unavailable', 'schema validation timed out', { status: 503 }));
        this.replace(slot);
      }, JOB_TIMEOUT_MS);
      slot.timer.unref();
      slot.worker.postMessage({ id: job.id, xml: job.xml });
    }
  }

  validate(xml: string): Promise<void> {
    if (this.closed) return Promise.reject(new ConnectorError('saml_schema_unavailable', 'schema validator is closed', { status: 503 }));
    if (this.queue.length >= MAX_QUEUE) {
      return Promise.reject(new ConnectorError('saml_busy', 'too many SAML messages waiting for validation', { status: 503 }));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, xml, resolve, reject });
      this.pump();
    });
  }

  stats(): SchemaPoolStats {
    return { workers: this.slots.length, queued: this.queue.length, validated: this.validated };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new ConnectorError('saml_schema_unavailable', 'schema validator is closed', { status: 503 }));
    await Promise.all(
      this.slots.splice(0).map((slot) => {
        slot.worker.removeAllListeners('exit');
        this.finish(slot);
        return slot.worker.terminate();
      }),
    );
  }
}

let shared: { pool: SchemaValidatorPool; users: number } | undefined;

/** The process-wide pool shared by every SAML connector (default size: half the cores, at least 1, at most 4). */
export function acquireSchemaPool(size = Math.min(4, Math.max(1, Math.floor(availableParallelism() / 2)))): SchemaValidatorPool {
  if (!shared) shared = { pool: new SchemaValidatorPool(size), users: 0 };
  shared.users++;
  return shared.pool;
}

export async function releaseSchemaPool(pool: SchemaValidatorPool): Promise<void> {
  if (!shared || shared.pool !== pool) return;
  if (--shared.users <= 0) {
    shared = undefined;
    await pool.close();
  }
}
