// Entry point of a SAML worker thread: verifies login Responses and validates schemas, answering the pool with plain data.
import { parentPort, workerData } from 'node:worker_threads';
import { ConnectorError } from './connector.js';
import { verifyLoginResponse, type ResponseCheckOptions } from './saml-response.js';
import { loadSchemaValidator, type SchemaValidator } from './saml-schema.js';
import type { TrustedCert } from './saml-signature.js';
import type { WorkerReply, WorkerRequest } from './saml-worker-pool.js';

const port = parentPort!;
let schema: Promise<SchemaValidator> | undefined;
const schemaValidator = (): Promise<SchemaValidator> => (schema ??= loadSchemaValidator());

async function schemaCheck(xml: string): Promise<void> {
  const errors = (await schemaValidator())(xml);
  if (errors) throw new ConnectorError('saml_schema_invalid', `the message is not schema-valid: ${errors.join(' | ')}`);
}

/** Errors cross the thread boundary as data; a ConnectorError keeps its code, detail and status. */
function toReply(id: number, error: unknown): WorkerReply {
  if (error instanceof ConnectorError) return { id, error: { code: error.code, detail: error.detail, status: error.status } };
  return { id, error: { message: String((error as Error | undefined)?.message ?? error).slice(0, 300) } };
}

async function handle(request: Exclude<WorkerRequest, { warmSchema: true }>): Promise<WorkerReply> {
  if (request.kind === 'validate') {
    await schemaCheck(request.xml);
    return { id: request.id };
  }
  const { certs, ...rest } = request.options;
  // Structured clone turns Buffers into Uint8Arrays.
  const options: ResponseCheckOptions = { ...rest, certs: certs.map((c): TrustedCert => ({ pem: c.pem, der: Buffer.from(c.der) })) };
  if (request.schema) options.validateSchema = schemaCheck;
  return { id: request.id, verified: await verifyLoginResponse(request.xml, options) };
}

/** Ready once the validator is compiled (when asked for); a validator that cannot load ends this worker (the pool retries). */
const warm = (withSchema: boolean): void => {
  (withSchema ? schemaValidator() : Promise.resolve()).then(
    () => port.postMessage({ ready: true } satisfies WorkerReply),
    (error: unknown) => setImmediate(() => {
      throw error;
    }),
  );
};

port.on('message', (request: WorkerRequest) => {
  if ('warmSchema' in request) return warm(true);
  handle(request).then(
    (reply) => port.postMessage(reply),
    (error: unknown) => port.postMessage(toReply(request.id, error)),
  );
});
// Next turn: the loader that brought this module in has finished (libxml2-wasm loads natively, not through tsx's hook).
setImmediate(() => warm((workerData as { schema: boolean }).schema));
