// Offline XSD validation of SAML messages (xmllint compiled to JS); loaded inside the SAML worker threads only.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export { SamlWorkerPool as SchemaValidatorPool } from './saml-worker-pool.js';

const require = createRequire(import.meta.url);

/** Validates one document; returns up to three short error strings, or null when the document is schema-valid. */
export type SchemaValidator = (xml: string) => string[] | null;

/**
 * Loads node-xmllint with the SAML 2.0 protocol/assertion, xmldsig and xenc schemas (the set samlify's validator uses)
 * and runs it once: the first run compiles ~4 MB of asm.js (seconds of CPU), so a worker does it before taking jobs.
 * The emscripten build writes to stdout, leaks process listeners on every run and may call process.exit: inside a
 * worker thread that only ends the worker (the pool rejects its job and respawns it).
 */
export function loadSchemaValidator(): SchemaValidator {
  const validatorEntry = require.resolve('@authenio/samlify-node-xmllint');
  const fromValidator = createRequire(validatorEntry);
  const xmllint = fromValidator('node-xmllint') as { validateXML(input: { xml: string; schema: string[] }): { errors: unknown[] | null } };
  const schemaDir = join(dirname(validatorEntry), 'schemas');
  const load = (name: string): string => (fromValidator(join(schemaDir, name)) as { default: string }).default;
  const assertion = load('saml-schema-assertion-2.0.xsd').replace('xmldsig-core-schema.xsd', 'file_1.xsd').replace('xenc-schema.xsd', 'file_2.xsd');
  const dsig = load('xmldsig-core-schema.xsd');
  const xenc = load('xenc-schema.xsd').replace('xmldsig-core-schema.xsd', 'file_1.xsd');
  const protocol = load('saml-schema-protocol-2.0.xsd').replace('saml-schema-assertion-2.0.xsd', 'file_0.xsd').replace('xmldsig-core-schema.xsd', 'file_1.xsd');
  const schema = [assertion, dsig, xenc, protocol];
  const cleanUp = (): void => {
    process.removeAllListeners('uncaughtException');
    process.stdout?.removeAllListeners('drain');
  };
  const validate: SchemaValidator = (xml) => {
    let errors: unknown[] | null;
    try {
      errors = xmllint.validateXML({ xml, schema }).errors;
    } catch (error) {
      errors = [String((error as Error | undefined)?.message ?? error)];
    }
    cleanUp();
    return errors ? errors.slice(0, 3).map((e) => String(e).slice(0, 300)) : null;
  };
  validate('<x/>');
  return validate;
}
