// bench: the SAML XSD validator alone, in process: CPU per validation of a signed Response with libxml2-wasm vs node-xmllint,
// and libxml2-wasm's WebAssembly memory before and after many validations (documents disposed: it must not grow).
import { createRequire } from 'node:module';
import { count, REPEATS } from './lib/harness.js';
import { emitResult } from './lib/report.js';
import { median, ratio } from './lib/stats.js';
import { loadSchemaValidator, type SchemaValidator } from '../src/connectors/saml-schema.js';
import { makeConnector, solicitedResponse } from '../test/connectors/saml-setup.js';

const WASM_RUNS = count(2000, 200);
const XMLLINT_RUNS = count(40, 5);
const MEMORY_RUNS = count(20_000, 2000);

// Captures libxml2-wasm's memory when loadSchemaValidator() instantiates the module.
let wasmMemory: WebAssembly.Memory | undefined;
const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (...args: unknown[]) => Promise<unknown>;
(WebAssembly as { instantiate: unknown }).instantiate = async (...args: unknown[]) => {
  const result = (await instantiate(...args)) as WebAssembly.WebAssemblyInstantiatedSource | WebAssembly.Instance;
  wasmMemory ??= ('instance' in result ? result.instance : result).exports.memory as WebAssembly.Memory;
  return result;
};

/** node-xmllint with the schema set samlify's validator uses (the broker's validator before libxml2-wasm). */
function loadXmllint(): SchemaValidator {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@authenio/samlify-node-xmllint');
  const fromValidator = createRequire(entry);
  const xmllint = fromValidator('node-xmllint') as { validateXML(input: { xml: string; schema: string[] }): { errors: unknown[] | null } };
  const load = (name: string) => (fromValidator(`${entry.replace(/index\.js$/, '')}schemas/${name}`) as { default: string }).default;
  const schema = [
    load('saml-schema-assertion-2.0.xsd').replace('xmldsig-core-schema.xsd', 'file_1.xsd').replace('xenc-schema.xsd', 'file_2.xsd'),
    load('xmldsig-core-schema.xsd'),
    load('xenc-schema.xsd').replace('xmldsig-core-schema.xsd', 'file_1.xsd'),
    load('saml-schema-protocol-2.0.xsd').replace('saml-schema-assertion-2.0.xsd', 'file_0.xsd').replace('xmldsig-core-schema.xsd', 'file_1.xsd'),
  ];
  return (xml) => {
    const errors = xmllint.validateXML({ xml, schema }).errors;
    // The emscripten build leaves listeners behind on every run.
    process.removeAllListeners('uncaughtException');
    process.stdout.removeAllListeners('drain');
    return errors ? errors.map(String) : null;
  };
}

/** CPU ms per call of `validate` over `runs` calls (process.cpuUsage: this thread's process, user + system). */
function cpuPerValidation(validate: SchemaValidator, xml: string, runs: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < runs; i++) if (validate(xml) !== null) throw new Error('the signed Response did not validate');
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / runs;
}

const env = await makeConnector();
const { xml } = await solicitedResponse(env);
await env.connector.close?.();
// node-xmllint's emscripten build prints to stdout; the result line goes through process.stdout.write.
console.log = () => undefined;

const cpuMsSince = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};
const t0 = process.cpuUsage();
const wasm = await loadSchemaValidator();
const wasmLoadMs = cpuMsSince(t0);
const t1 = process.cpuUsage();
const xmllint = loadXmllint();
xmllint(xml);
const xmllintLoadMs = cpuMsSince(t1);

cpuPerValidation(wasm, xml, count(200, 20));
const wasmMs: number[] = [];
const xmllintMs: number[] = [];
for (let repeat = 0; repeat < REPEATS; repeat++) {
  wasmMs.push(cpuPerValidation(wasm, xml, WASM_RUNS));
  xmllintMs.push(cpuPerValidation(xmllint, xml, XMLLINT_RUNS));
  process.stderr.write(`  [#${repeat + 1}] libxml2-wasm ${wasmMs.at(-1)!.toFixed(3)} ms, node-xmllint ${xmllintMs.at(-1)!.toFixed(2)} ms per validation\n`);
}

const invalid = xml.replace('<samlp:Status>', '<samlp:Bogus/><samlp:Status>');
const memoryBefore = wasmMemory!.buffer.byteLength;
for (let i = 0; i < MEMORY_RUNS; i++) wasm(i % 2 ? xml : invalid);
const memoryAfter = wasmMemory!.buffer.byteLength;
process.stderr.write(`  wasm memory ${memoryBefore} -> ${memoryAfter} bytes over ${MEMORY_RUNS} validations\n`);

const mib = (bytes: number) => bytes / 1024 / 1024;
emitResult({
  scenario: 'saml-schema',
  title: 'SAML XSD validation (libxml2-wasm)',
  peer: 'node-xmllint (@authenio/samlify-node-xmllint), the validator before',
  rows: [
    { metric: `CPU per XSD validation of a signed Response (${Buffer.byteLength(xml)} bytes)`, unit: 'ms', broker: median(wasmMs), peer: median(xmllintMs), ratio: ratio(median(wasmMs), median(xmllintMs)) },
    { metric: 'CPU to load the validator and compile the schemas (once per worker thread)', unit: 'ms', broker: wasmLoadMs, peer: xmllintLoadMs, ratio: ratio(wasmLoadMs, xmllintLoadMs) },
    { metric: `WebAssembly memory before ${MEMORY_RUNS} validations (half invalid)`, unit: 'MiB', broker: mib(memoryBefore), peer: null, ratio: null },
    { metric: `WebAssembly memory after ${MEMORY_RUNS} validations`, unit: 'MiB', broker: mib(memoryAfter), peer: null, ratio: null, target: 'no growth', met: memoryAfter === memoryBefore },
  ],
  method: { repeats: REPEATS, wasmValidationsPerRepeat: WASM_RUNS, xmllintValidationsPerRepeat: XMLLINT_RUNS, memoryValidations: MEMORY_RUNS, cpu: 'process.cpuUsage() around a loop, in process, main thread' },
});
