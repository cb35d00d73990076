// fast-check arbitraries of mutations to a signed SAML Response, each labelled with what a correct verifier must do with it.
import fc from 'fast-check';
import type { Document, Element } from '@xmldom/xmldom';
import { A, DS, P, VICTIM_NAMEID, XSW, byName, evilize, parse, serialize } from '../helpers/saml-forgery.js';

/** Which element the IdP signed: the Assertion (the default policy) or the whole Response. */
export type SignedPart = 'assertion' | 'response';

/**
 * What a correct verifier does with the mutated message:
 * - `reject`: the mutation changes signed content or the message's meaning, or breaks well-formedness: it must be refused;
 * - `accept`: it touches neither signed content nor meaning (whitespace outside the signed element, an XML declaration):
 *   it must sign in as the original identity;
 * - `either`: refusing is fine, and so is accepting, but only as the original identity (e.g. a flipped byte that may
 *   land in KeyInfo, which is not signed, or an unused namespace declaration, which exclusive C14N drops).
 */
export type Verdict = 'reject' | 'accept' | 'either';

export interface Mutation {
  label: string;
  verdict: (signed: SignedPart) => Verdict;
  apply: (xml: string, signed: SignedPart) => string;
}

const ELEMENT_KINDS = ['Assertion', 'Signature', 'Subject', 'Conditions', 'AudienceRestriction'] as const;
type ElementKind = (typeof ELEMENT_KINDS)[number];

const response = (doc: Document): Element => doc.documentElement as Element;
const assertion = (doc: Document): Element => byName(doc, A, 'Assertion')[0]!;
const signedElement = (doc: Document, signed: SignedPart): Element => (signed === 'assertion' ? assertion(doc) : response(doc));

/** The element of a kind the mutation works on: the Signature is the one the policy relies on. */
function elementOf(doc: Document, kind: ElementKind, signed: SignedPart): Element {
  if (kind === 'Signature') return byName(signedElement(doc, signed), DS, 'Signature').find((s) => s.parentNode === signedElement(doc, signed))!;
  if (kind === 'Assertion') return assertion(doc);
  return byName(doc, A, kind)[0]!;
}

const setText = (element: Element, text: string): void => {
  while (element.firstChild) element.removeChild(element.firstChild);
  element.appendChild(element.ownerDocument!.createTextNode(text));
};

const viaDom = (xml: string, change: (doc: Document) => void): string => {
  const doc = parse(xml);
  change(doc);
  return serialize(doc);
};

/** Any character at any position (inside or outside signed content, markup or text). */
const flipCharacter = fc
  .record({ at: fc.nat(), char: fc.oneof(fc.constantFrom('<', '>', '&', '"', "'", ' ', '\t', '/', '=', ':', '\u0000', 'é', '\uFFFE'), fc.string({ minLength: 1, maxLength: 1 })) })
  .map(({ at, char }): Mutation => ({
    label: `flip character at ${at} to ${JSON.stringify(char)}`,
    verdict: () => 'either',
    apply: (xml) => {
      const i = at % xml.length;
      return xml.slice(0, i) + char + xml.slice(i + 1);
    },
  }));

const SIGNED_TEXTS = [
  { ns: A, local: 'NameID' },
  { ns: A, local: 'Audience' },
  { ns: A, local: 'AuthnContextClassRef' },
  { ns: A, local: 'AttributeValue' },
] as const;

/** A changed character inside a text node of the Assertion (signed under either policy: the Response contains it). */
const changeSignedText = fc
  .record({ target: fc.constantFrom(...SIGNED_TEXTS), which: fc.nat(), at: fc.nat(), char: fc.constantFrom(...'abcXYZ019-_@.'.split('')) })
  .map(({ target, which, at, char }): Mutation => ({
    label: `change ${target.local}[${which}] text at ${at} to ${char}`,
    verdict: () => 'reject',
    apply: (xml) =>
      viaDom(xml, (doc) => {
        const elements = byName(doc, target.ns, target.local);
        const element = elements[which % elements.length]!;
        const text = element.textContent ?? '';
        const i = at % Math.max(1, text.length);
        // A different character, so the canonical form does change.
        const replacement = text[i] === char ? (char === 'a' ? 'b' : 'a') : char;
        setText(element, text.slice(0, i) + replacement + text.slice(i + 1));
      }),
  }));

const whitespace = fc.array(fc.constantFrom(' ', '\n', '\t', '\r\n'), { minLength: 1, maxLength: 8 }).map((parts) => parts.join(''));

/** Whitespace before or after the document element: outside every signature and without meaning (XML 1.0 Misc). */
const whitespaceAroundDocument = fc.record({ before: whitespace, after: whitespace }).map(({ before, after }): Mutation => ({
  label: `whitespace around the document element ${JSON.stringify([before, after])}`,
  verdict: () => 'accept',
  apply: (xml) => `${before}${xml}${after}`,
}));

/** An XML declaration in front: no change to the document's content. */
const xmlDeclaration = fc.constantFrom('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>\n').map((decl): Mutation => ({
  label: `XML declaration ${decl.trim()}`,
  verdict: () => 'accept',
  apply: (xml) => decl + xml,
}));

/** Whitespace between the Response's children: outside the signed Assertion, inside a signed Response. */
const whitespaceBetweenResponseChildren = fc.record({ gap: fc.nat(), ws: whitespace }).map(({ gap, ws }): Mutation => ({
  label: `whitespace ${JSON.stringify(ws)} between Response children (gap ${gap})`,
  verdict: (signed) => (signed === 'assertion' ? 'accept' : 'reject'),
  apply: (xml) =>
    viaDom(xml, (doc) => {
      const root = response(doc);
      const children = Array.from(root.childNodes);
      const before = children[gap % (children.length + 1)] ?? null;
      root.insertBefore(doc.createTextNode(ws), before as never);
    }),
}));

/** A second copy of an element next to the original (optionally naming the victim). */
const duplicateElement = fc.record({ kind: fc.constantFrom(...ELEMENT_KINDS), evil: fc.boolean(), first: fc.boolean() }).map(({ kind, evil, first }): Mutation => ({
  label: `duplicate ${kind}${evil ? ' (victim NameID in the copy)' : ''} ${first ? 'before' : 'after'} the original`,
  verdict: () => 'reject',
  apply: (xml, signed) =>
    viaDom(xml, (doc) => {
      const original = elementOf(doc, kind, signed);
      const copy = original.cloneNode(true) as Element;
      const nameId = byName(copy, A, 'NameID')[0];
      if (evil && nameId) setText(nameId, VICTIM_NAMEID);
      if (evil && copy.hasAttribute('ID')) copy.setAttribute('ID', '_evil-copy');
      original.parentNode!.insertBefore(copy, first ? original : original.nextSibling);
    }),
}));

/** One element removed. */
const removeElement = fc.constantFrom(...ELEMENT_KINDS).map((kind): Mutation => ({
  label: `remove ${kind}`,
  verdict: () => 'reject',
  apply: (xml, signed) =>
    viaDom(xml, (doc) => {
      const element = elementOf(doc, kind, signed);
      element.parentNode!.removeChild(element);
    }),
}));

/** Where an unsigned assertion naming the victim can be smuggled in. */
const SMUGGLE_SPOTS = ['response-first', 'response-last', 'extensions', 'inside-assertion', 'signature-object', 'status'] as const;
const insertVictimAssertion = fc.constantFrom(...SMUGGLE_SPOTS).map((spot): Mutation => ({
  label: `insert an unsigned victim assertion at ${spot}`,
  verdict: () => 'reject',
  apply: (xml, signed) =>
    viaDom(xml, (doc) => {
      const root = response(doc);
      const original = assertion(doc);
      const evil = evilize(original.cloneNode(true) as Element, '_smuggled');
      for (const sig of byName(evil, DS, 'Signature')) sig.parentNode!.removeChild(sig);
      if (spot === 'response-first') root.insertBefore(evil, root.firstChild);
      else if (spot === 'response-last') root.appendChild(evil);
      else if (spot === 'inside-assertion') original.appendChild(evil);
      else if (spot === 'status') byName(doc, P, 'Status')[0]!.appendChild(evil);
      else if (spot === 'signature-object') {
        const object = doc.createElementNS(DS, 'ds:Object');
        object.appendChild(evil);
        elementOf(doc, 'Signature', signed).appendChild(object);
      } else {
        const extensions = doc.createElementNS(P, 'samlp:Extensions');
        extensions.appendChild(evil);
        root.insertBefore(extensions, byName(doc, P, 'Status')[0]!);
      }
    }),
}));

/** A foreign element (another namespace): meaningless to SAML, but signed content if inside the signed element. */
const FOREIGN_PARENTS = ['Response', 'Assertion', 'Subject', 'Conditions'] as const;
const insertForeignElement = fc.constantFrom(...FOREIGN_PARENTS).map((parent): Mutation => ({
  label: `insert a foreign element into ${parent}`,
  verdict: (signed) => (parent === 'Response' && signed === 'assertion' ? 'either' : 'reject'),
  apply: (xml) =>
    viaDom(xml, (doc) => {
      const target = parent === 'Response' ? response(doc) : byName(doc, A, parent)[0]!;
      const foreign = doc.createElementNS('urn:example:foreign', 'f:Note');
      foreign.appendChild(doc.createTextNode('victim-admin'));
      target.appendChild(foreign);
    }),
}));

/** Attributes that carry meaning: each is checked by the verifier or covered by a signature (Response@ID only under a Response signature). */
const ATTRIBUTE_TARGETS = [
  { element: 'Response', attr: 'ID' },
  { element: 'Response', attr: 'InResponseTo' },
  { element: 'Response', attr: 'Destination' },
  { element: 'Assertion', attr: 'ID' },
  { element: 'SubjectConfirmationData', attr: 'InResponseTo' },
  { element: 'SubjectConfirmationData', attr: 'NotOnOrAfter' },
  { element: 'SubjectConfirmationData', attr: 'Recipient' },
  { element: 'Conditions', attr: 'NotOnOrAfter' },
  { element: 'Conditions', attr: 'NotBefore' },
] as const;
const attributeValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('2099-01-01T00:00:00Z', '1970-01-01T00:00:00Z', 'https://evil.example/acs', '_evil', '', ' ', '2030-01-15T10:05:00.000Z '),
);
const changeAttribute = fc.record({ target: fc.constantFrom(...ATTRIBUTE_TARGETS), value: attributeValue }).map(({ target, value }): Mutation => ({
  label: `set ${target.element}@${target.attr} to ${JSON.stringify(value)}`,
  verdict: (signed) => (target.element === 'Response' && target.attr === 'ID' && signed === 'assertion' ? 'either' : 'reject'),
  apply: (xml) =>
    viaDom(xml, (doc) => {
      const element = target.element === 'Response' ? response(doc) : byName(doc, A, target.element)[0]!;
      // Always a different value: appending a marker when the generated one happens to equal the original.
      element.setAttribute(target.attr, value === element.getAttribute(target.attr) ? `${value}x` : value);
    }),
}));

/** An attribute removed: a signed one (or a required one, the Response's ID) must be missed; the Response's InResponseTo and Destination are optional outside a Response signature. */
const removeAttribute = fc.constantFrom(...ATTRIBUTE_TARGETS).map((target): Mutation => ({
  label: `remove ${target.element}@${target.attr}`,
  verdict: (signed) => (target.element === 'Response' && target.attr !== 'ID' && signed === 'assertion' ? 'either' : 'reject'),
  apply: (xml) =>
    viaDom(xml, (doc) => {
      const element = target.element === 'Response' ? response(doc) : byName(doc, A, target.element)[0]!;
      element.removeAttribute(target.attr);
    }),
}));

/** A comment inside the NameID: C14N without comments ignores it, so the digest still matches; the verifier must refuse. */
const commentInNameId = fc.record({ at: fc.nat(), body: fc.constantFrom('', ' ', 'x', '-') }).map(({ at, body }): Mutation => ({
  label: `comment <!--${body}--> in the NameID at ${at}`,
  verdict: () => 'reject',
  apply: (xml) => {
    const match = /(<saml:NameID[^>]*>)([^<]*)(<\/saml:NameID>)/.exec(xml)!;
    const i = at % (match[2]!.length + 1);
    const nameId = `${match[2]!.slice(0, i)}<!--${body}-->${match[2]!.slice(i)}`;
    return xml.replace(match[0], match[1]! + nameId + match[3]!);
  },
}));

/** Namespace games inside the Assertion. */
const namespaceGame = fc.constantFrom('rename-prefix', 'rebind-prefix', 'unused-declaration', 'default-namespace').map((game): Mutation => ({
  label: `namespace game: ${game}`,
  // Exclusive C14N keeps prefixes and visibly used bindings (so renaming or rebinding changes the digest) and drops
  // declarations nothing in the element uses (so the signature still verifies, and the meaning is unchanged).
  verdict: () => (game === 'unused-declaration' || game === 'default-namespace' ? 'either' : 'reject'),
  apply: (xml) => {
    if (game === 'rename-prefix') {
      const start = xml.indexOf('<saml:Assertion');
      const end = xml.indexOf('</saml:Assertion>') + '</saml:Assertion>'.length;
      const renamed = xml.slice(start, end).replace(/(<\/?)saml:/g, '$1s2:').replace('<s2:Assertion ', `<s2:Assertion xmlns:s2="${A}" `);
      return xml.slice(0, start) + renamed + xml.slice(end);
    }
    if (game === 'rebind-prefix') return xml.replace('<saml:Subject>', '<saml:Subject xmlns:saml="urn:example:evil">');
    if (game === 'unused-declaration') return xml.replace('<saml:Subject>', '<saml:Subject xmlns:unused="urn:example:unused">');
    return xml.replace('<saml:Subject>', '<saml:Subject xmlns="urn:example:default">');
  },
}));

/** The SAML Raider wrapping shapes that fit the signature in use (XSW1-2 wrap a Response signature, XSW3-8 an Assertion's). */
/** The SAML Raider wrapping shapes that fit the signature in use: XSW1-2 wrap a Response signature, XSW3-8 an Assertion's. */
const wrapping = (signed: SignedPart) =>
  fc.constantFrom(...(signed === 'response' ? (['XSW1', 'XSW2'] as const) : (['XSW3', 'XSW4', 'XSW5', 'XSW6', 'XSW7', 'XSW8'] as const))).map((variant): Mutation => ({
    label: `signature wrapping ${variant}`,
    verdict: () => 'reject',
    apply: (xml) => viaDom(xml, (doc) => XSW[variant](doc)),
  }));

/** A DTD: refused outright (XXE, entity expansion), whether or not an entity is used. */
const doctype = fc.constantFrom('internal-entity', 'external-entity', 'empty-dtd', 'laughs').map((shape): Mutation => ({
  label: `DOCTYPE ${shape}`,
  verdict: () => 'reject',
  apply: (xml) => {
    if (shape === 'empty-dtd') return `<!DOCTYPE samlp:Response>${xml}`;
    if (shape === 'external-entity') return `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${xml.replace(/(<saml:NameID[^>]*>)[^<]*/, '$1&x;')}`;
    if (shape === 'laughs') return `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>${xml.replace(/(<saml:NameID[^>]*>)[^<]*/, '$1&b;')}`;
    return `<!DOCTYPE r [<!ENTITY x "victim-admin">]>${xml.replace(/(<saml:NameID[^>]*>)[^<]*/, '$1&x;')}`;
  },
}));

/** The message cut short anywhere: no longer well-formed. */
const truncate = fc.nat().map((at): Mutation => ({
  label: `truncate at ${at}`,
  verdict: () => 'reject',
  apply: (xml) => xml.slice(0, at % xml.length),
}));

/** Over the 1 MB limit, by padding inside or outside the signed content. */
const oversize = fc.constantFrom('extensions', 'trailing-whitespace', 'attribute').map((how): Mutation => ({
  label: `oversized (${how})`,
  verdict: () => 'reject',
  apply: (xml) => {
    const pad = 'A'.repeat(1024 * 1024 + 1);
    if (how === 'trailing-whitespace') return xml + ' '.repeat(pad.length);
    if (how === 'attribute') return xml.replace('<samlp:Response ', `<samlp:Response data-pad="${pad}" `);
    return xml.replace('</samlp:Response>', `<samlp:Extensions>${pad}</samlp:Extensions></samlp:Response>`);
  },
}));

/** One mutation of any kind for a message signed this way (one per run, so each verdict is exact), the cheap ones more often than the 1 MB ones. */
export const mutationFor = (signed: SignedPart): fc.Arbitrary<Mutation> =>
  fc.oneof(
    { arbitrary: flipCharacter, weight: 4 },
    { arbitrary: changeSignedText, weight: 2 },
    { arbitrary: whitespaceAroundDocument, weight: 1 },
    { arbitrary: xmlDeclaration, weight: 1 },
    { arbitrary: whitespaceBetweenResponseChildren, weight: 1 },
    { arbitrary: duplicateElement, weight: 2 },
    { arbitrary: removeElement, weight: 1 },
    { arbitrary: insertVictimAssertion, weight: 2 },
    { arbitrary: insertForeignElement, weight: 1 },
    { arbitrary: changeAttribute, weight: 3 },
    { arbitrary: removeAttribute, weight: 1 },
    { arbitrary: commentInNameId, weight: 1 },
    { arbitrary: namespaceGame, weight: 1 },
    { arbitrary: wrapping(signed), weight: 2 },
    { arbitrary: doctype, weight: 1 },
    { arbitrary: truncate, weight: 2 },
    { arbitrary: oversize, weight: 1 },
  );
