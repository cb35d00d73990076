// Offline XSD validation of SAML messages with libxml2 (WebAssembly): the SAML schemas compiled once, one validator reused.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MAX_MESSAGE_BYTES } from './saml-xml.js';

export { SamlWorkerPool as SchemaValidatorPool } from './saml-worker-pool.js';

/** Validates one document; returns up to three short error strings, or null when the document is schema-valid. */
export type SchemaValidator = (xml: string) => string[] | null;

/** The OASIS SAML 2.0 protocol and assertion schemas with the W3C xmldsig and xenc schemas they import (schemas/saml/). */
const SCHEMA_DIR = fileURLToPath(new URL('../../schemas/saml/', import.meta.url));
const SCHEMA_FILES = ['saml-schema-protocol-2.0.xsd', 'saml-schema-assertion-2.0.xsd', 'xmldsig-core-schema.xsd', 'xenc-schema.xsd'];
/** The schemas' own imports resolve under this base, served from memory; nothing else is readable by the parser. */
const SCHEMA_BASE = 'vestibule-saml-schema:/';
const FORBIDDEN_MARKUP = /<!DOCTYPE|<!ENTITY/i;
const MAX_ERRORS = 3;

/**
 * Loads libxml2-wasm (an ES module with a top-level await, hence the dynamic import), compiles the protocol schema with
 * its imports once and returns a validator that parses each message into a fresh document (no DTD, no entities, no
 * network) and always disposes it: documents live in the WebAssembly heap, which never shrinks.
 */
export async function loadSchemaValidator(): Promise<SchemaValidator> {
  const { ParseOption, XmlBufferInputProvider, XmlDocument, XmlLibError, XsdValidator, xmlRegisterInputProvider } = await import('libxml2-wasm');
  const files: Record<string, Uint8Array> = {};
  for (const name of SCHEMA_FILES) files[`${SCHEMA_BASE}${name}`] = readFileSync(`${SCHEMA_DIR}${name}`);
  xmlRegisterInputProvider(new XmlBufferInputProvider(files));
  const entry = `${SCHEMA_BASE}${SCHEMA_FILES[0]}`;
  // The schema document stays alive with the validator for the life of the thread (the compiled schema refers to it).
  const schema = XsdValidator.fromDoc(XmlDocument.fromBuffer(files[entry]!, { url: entry }));
  const option = ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_NO_XXE;

  return (xml) => {
    if (Buffer.byteLength(xml, 'utf8') > MAX_MESSAGE_BYTES) return [`the message exceeds the ${MAX_MESSAGE_BYTES}-byte limit`];
    if (FORBIDDEN_MARKUP.test(xml)) return ['the message contains a DTD or entity declaration'];
    let doc: InstanceType<typeof XmlDocument> | undefined;
    try {
      doc = XmlDocument.fromString(xml, { option });
      if (doc.dtd) return ['the message contains a DTD'];
      schema.validate(doc);
      return null;
    } catch (error) {
      const details = error instanceof XmlLibError ? error.details.map((d) => d.message) : [String((error as Error | undefined)?.message ?? error)];
      return details.slice(0, MAX_ERRORS).map((message) => message.trim().slice(0, 300));
    } finally {
      doc?.dispose();
    }
  };
}
