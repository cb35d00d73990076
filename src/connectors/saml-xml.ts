// Hardened XML intake for SAML messages: size limits, strict base64, bounded inflate, no DTD/comments, safe element helpers.
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import type { Document, Element, Node } from '@xmldom/xmldom';
import { ConnectorError } from './connector.js';

export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
} as const;

/** Largest SAML message (decoded XML) the broker accepts: 1 MB. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const PROCESSING_INSTRUCTION_NODE = 7;
const COMMENT_NODE = 8;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64 decode of a form/query parameter (whitespace tolerated, nothing else). */
export function decodeBase64Param(value: string, maxBytes = MAX_MESSAGE_BYTES): Buffer {
  if (value.length > Math.ceil((maxBytes * 4) / 3) + 4096) {
    throw new ConnectorError('saml_too_large', `encoded message of ${value.length} characters exceeds the ${maxBytes}-byte limit`, { status: 413 });
  }
  const compact = value.replace(/[\r\n\t ]/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new ConnectorError('saml_malformed_base64', 'the SAML message is not valid base64');
  }
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.length > maxBytes) {
    throw new ConnectorError('saml_too_large', `decoded message of ${bytes.length} bytes exceeds the ${maxBytes}-byte limit`, { status: 413 });
  }
  return bytes;
}

/** HTTP-POST binding: base64 of the XML. */
export function decodePostBinding(value: string, maxBytes = MAX_MESSAGE_BYTES): string {
  return decodeBase64Param(value, maxBytes).toString('utf8');
}

/** HTTP-Redirect binding: base64 of raw DEFLATE; the inflated size is bounded (deflate bombs). */
export function decodeRedirectBinding(value: string, maxBytes = MAX_MESSAGE_BYTES): string {
  const compressed = decodeBase64Param(value, maxBytes);
  try {
    return inflateRawSync(compressed, { maxOutputLength: maxBytes }).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new ConnectorError('saml_too_large', `inflated message exceeds the ${maxBytes}-byte limit`, { status: 413 });
    }
    throw new ConnectorError('saml_malformed_message', 'the SAML message is not valid DEFLATE data');
  }
}

const FORBIDDEN_MARKUP = /<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST|<!NOTATION/i;

/**
 * Parses untrusted XML: no DTD of any kind (XXE, billion laughs), no comments or processing instructions
 * (NameID comment injection), every parser warning is fatal.
 */
export function parseUntrustedXml(xml: string, maxBytes = MAX_MESSAGE_BYTES): Document {
  if (Buffer.byteLength(xml, 'utf8') > maxBytes) {
    throw new ConnectorError('saml_too_large', `message exceeds the ${maxBytes}-byte limit`, { status: 413 });
  }
  if (FORBIDDEN_MARKUP.test(xml)) throw new ConnectorError('saml_dtd_forbidden', 'the message contains a DTD or entity declaration');
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        throw new Error(`${level}: ${message}`);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (error) {
    throw new ConnectorError('saml_malformed_xml', `the message is not well-formed XML (${String((error as Error).message).slice(0, 120)})`);
  }
  if (!doc.documentElement) throw new ConnectorError('saml_malformed_xml', 'the message has no root element');
  assertNoHiddenNodes(doc);
  return doc;
}

function assertNoHiddenNodes(doc: Document): void {
  for (let node = doc.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === PROCESSING_INSTRUCTION_NODE && node.nodeName === 'xml' && node === doc.firstChild) continue;
    if (node.nodeType === COMMENT_NODE) throw new ConnectorError('saml_xml_comment', 'comments are not accepted in SAML messages');
    if (node.nodeType === PROCESSING_INSTRUCTION_NODE) throw new ConnectorError('saml_malformed_xml', 'processing instructions are not accepted');
  }
  const stack: Node[] = [doc.documentElement as Node];
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (let child = node.firstChild; child; child = child.nextSibling) {
      if (child.nodeType === COMMENT_NODE) throw new ConnectorError('saml_xml_comment', 'comments are not accepted in SAML messages');
      if (child.nodeType === PROCESSING_INSTRUCTION_NODE) throw new ConnectorError('saml_malformed_xml', 'processing instructions are not accepted');
      if (child.nodeType === ELEMENT_NODE) stack.push(child);
    }
  }
}

export function isElement(node: Node | null | undefined): node is Element {
  return !!node && node.nodeType === ELEMENT_NODE;
}

export function is(el: Element, ns: string, localName: string): boolean {
  return el.namespaceURI === ns && el.localName === localName;
}

/** Direct element children, optionally filtered by namespace + local name. */
export function childElements(parent: Node, ns?: string, localName?: string): Element[] {
  const out: Element[] = [];
  for (let child = parent.firstChild; child; child = child.nextSibling) {
    if (isElement(child) && (ns === undefined || is(child, ns, localName!))) out.push(child);
  }
  return out;
}

/** The single direct child with that name; undefined when absent, an error when repeated. */
export function optionalChild(parent: Element, ns: string, localName: string, code = 'saml_invalid_message'): Element | undefined {
  const found = childElements(parent, ns, localName);
  if (found.length > 1) throw new ConnectorError(code, `more than one <${localName}> in <${parent.localName}>`);
  return found[0];
}

export function requiredChild(parent: Element, ns: string, localName: string, code = 'saml_invalid_message'): Element {
  const el = optionalChild(parent, ns, localName, code);
  if (!el) throw new ConnectorError(code, `<${parent.localName}> has no <${localName}>`);
  return el;
}

/** All descendant elements (document order), including `root`. */
export function descendants(root: Element): Element[] {
  const out: Element[] = [];
  const walk = (el: Element): void => {
    out.push(el);
    for (let child = el.firstChild; child; child = child.nextSibling) if (isElement(child)) walk(child);
  };
  walk(root);
  return out;
}

/**
 * Text of a simple-content element: the concatenation of its text and CDATA children, trimmed. Any child element,
 * comment or processing instruction is refused, so `user@evil.com<!---->.good.com` can never be read partially.
 */
export function textOf(el: Element): string {
  let text = '';
  for (let child = el.firstChild; child; child = child.nextSibling) {
    if (child.nodeType === TEXT_NODE || child.nodeType === CDATA_SECTION_NODE) text += child.nodeValue ?? '';
    else if (child.nodeType === COMMENT_NODE) throw new ConnectorError('saml_xml_comment', `comment inside <${el.localName}>`);
    else throw new ConnectorError('saml_invalid_message', `<${el.localName}> must contain text only`);
  }
  return text.trim();
}

/** An attribute value or undefined (empty attributes count as absent only when `emptyAsAbsent`). */
export function attr(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? (el.getAttribute(name) ?? '') : undefined;
}

const XS_DATETIME = /^(\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an xs:dateTime that SAML requires in UTC; returns ms since epoch. */
export function parseInstant(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!XS_DATETIME.test(value)) throw new ConnectorError('saml_invalid_message', `${what} is not an xs:dateTime`);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ConnectorError('saml_invalid_message', `${what} is not a valid instant`);
  return ms;
}

/** Every ID-like attribute value in the document must be unique: a repeated ID is a wrapping attempt. */
export function assertUniqueIds(root: Element): Map<string, Element> {
  const ids = new Map<string, Element>();
  for (const el of descendants(root)) {
    for (let i = 0; i < el.attributes.length; i++) {
      const a = el.attributes.item(i)!;
      const local = a.localName ?? a.name;
      if (local !== 'ID' && local !== 'Id' && local !== 'id') continue;
      if (ids.has(a.value)) throw new ConnectorError('saml_signature_wrapping', `the ID "${a.value.slice(0, 64)}" appears more than once`);
      ids.set(a.value, el);
    }
  }
  return ids;
}

export function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
