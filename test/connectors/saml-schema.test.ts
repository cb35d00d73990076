// The libxml2-wasm XSD validator: what it accepts and refuses (with libxml2's message), and that its WebAssembly heap stays flat.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../../src/connectors/saml-xml.js';
import { loadSchemaValidator, type SchemaValidator } from '../../src/connectors/saml-schema.js';
import { makeConnector, solicitedResponse, type Connector } from './saml-setup.js';

// Captures libxml2-wasm's memory: the module is instantiated on the first loadSchemaValidator() (this file's own process).
let wasmMemory: WebAssembly.Memory | undefined;
const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (...args: unknown[]) => Promise<unknown>;
(WebAssembly as { instantiate: unknown }).instantiate = async (...args: unknown[]) => {
  const result = (await instantiate(...args)) as WebAssembly.WebAssemblyInstantiatedSource | WebAssembly.Instance;
  const instance = 'instance' in result ? result.instance : result;
  wasmMemory ??= instance.exports.memory as WebAssembly.Memory;
  return result;
};

const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const minimalResponse = (inner = '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>', ns = PROTOCOL) =>
  `<samlp:Response xmlns:samlp="${ns}" ID="_r1" Version="2.0" IssueInstant="2030-01-15T10:00:00Z">${inner}</samlp:Response>`;

let validate: SchemaValidator;
let signed: string;
let connector: Connector | undefined;

beforeAll(async () => {
  validate = await loadSchemaValidator();
  const env = await makeConnector();
  connector = env.connector;
  signed = (await solicitedResponse(env)).xml;
}, 60_000);
afterAll(async () => {
  await connector?.close?.();
});

describe('SAML schema validator (libxml2-wasm)', () => {
  it('accepts a signed login Response, a minimal Response and a bare Assertion (what a decrypted assertion is)', () => {
    expect(validate(signed)).toBeNull();
    expect(validate(minimalResponse())).toBeNull();
    expect(validate(`<saml:Assertion xmlns:saml="${ASSERTION}" ID="_a1" Version="2.0" IssueInstant="2030-01-15T10:00:00Z"><saml:Issuer>https://idp.test</saml:Issuer></saml:Assertion>`)).toBeNull();
  });

  it('refuses an unexpected element and names it', () => {
    const errors = validate(signed.replace('<samlp:Status>', '<samlp:Bogus/><samlp:Status>'));
    expect(errors).not.toBeNull();
    expect(errors![0]).toMatch(/Element '\{urn:oasis:names:tc:SAML:2\.0:protocol\}Bogus': This element is not expected/);
  });

  it('refuses an element that is not in the SAML namespace or a root the schemas do not declare', () => {
    expect(validate(minimalResponse(undefined, 'urn:oasis:names:tc:SAML:2.0:protocol-not'))![0]).toMatch(/No matching global declaration available for the validation root/);
    expect(validate(minimalResponse(`<samlp:Status><samlp:StatusCode Value="urn:x"/></samlp:Status><saml:Assertion xmlns:saml="urn:evil"/>`))![0]).toMatch(/This element is not expected/);
    expect(validate('<Response/>')![0]).toMatch(/No matching global declaration/);
  });

  it('refuses missing required attributes, with at most three short messages', () => {
    const errors = validate(`<samlp:Response xmlns:samlp="${PROTOCOL}"/>`)!;
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/The attribute 'ID' is required but missing/);
    for (const error of errors) expect(error.length).toBeLessThanOrEqual(300);
  });

  it('refuses a DTD, an external entity (XXE) and an internal entity before parsing', () => {
    const xxe = `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${minimalResponse('<samlp:Status><samlp:StatusCode Value="&x;"/></samlp:Status>')}`;
    expect(validate(xxe)).toEqual(['the message contains a DTD or entity declaration']);
    expect(validate(`<!doctype samlp:Response SYSTEM "http://127.0.0.1:9/x.dtd">${minimalResponse()}`)).toEqual(['the message contains a DTD or entity declaration']);
    const laughs = `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>${minimalResponse()}`;
    expect(validate(laughs)).toEqual(['the message contains a DTD or entity declaration']);
  });

  it('refuses an undeclared entity reference and malformed XML with the parser message', () => {
    expect(validate(minimalResponse('<samlp:Status><samlp:StatusCode Value="&x;"/></samlp:Status>'))![0]).toMatch(/Entity 'x' not defined/);
    expect(validate(`<samlp:Response xmlns:samlp="${PROTOCOL}">`)).not.toBeNull();
    expect(validate('')).not.toBeNull();
  });

  it('refuses an oversized message without parsing it', () => {
    const padding = 'x'.repeat(MAX_MESSAGE_BYTES);
    expect(validate(minimalResponse(`<samlp:Extensions><e xmlns="urn:ext">${padding}</e></samlp:Extensions>`))).toEqual([`the message exceeds the ${MAX_MESSAGE_BYTES}-byte limit`]);
  });

  it('disposes every document: the WebAssembly heap does not grow over 5,000 more validations', () => {
    expect(wasmMemory).toBeInstanceOf(WebAssembly.Memory);
    const invalid = signed.replace('<samlp:Status>', '<samlp:Bogus/><samlp:Status>');
    const malformed = signed.slice(0, signed.length - 20);
    const round = (i: number) => [validate(signed), validate(i % 2 ? invalid : malformed)];
    for (let i = 0; i < 200; i++) round(i);
    const before = wasmMemory!.buffer.byteLength;
    for (let i = 0; i < 2500; i++) expect(round(i)[0]).toBeNull();
    expect(wasmMemory!.buffer.byteLength).toBe(before);
  }, 60_000);
});
