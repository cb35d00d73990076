// XML signature checks that close samlify#634: one enveloped signature, one Reference to its own parent's ID, strong algorithms.
import { createHash, createPublicKey, createSign, createVerify, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { C14nCanonicalization, ExclusiveCanonicalization, SignedXml } from 'xml-crypto';
import type { Element } from '@xmldom/xmldom';
import { ConnectorError } from './connector.js';
import { NS, attr, childElements, isElement, parseUntrustedXml, textOf } from './saml-xml.js';

export const ALG = {
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha384: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha384: 'http://www.w3.org/2001/04/xmldsig-more#sha384',
  sha512: 'http://www.w3.org/2001/04/xmlenc#sha512',
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
} as const;

const STRONG_SIGNATURE = new Set<string>([ALG.rsaSha256, ALG.rsaSha384, ALG.rsaSha512]);
const STRONG_DIGEST = new Set<string>([ALG.sha256, ALG.sha384, ALG.sha512]);
const NODE_HASH: Record<string, string> = {
  [ALG.rsaSha1]: 'RSA-SHA1',
  [ALG.rsaSha256]: 'RSA-SHA256',
  [ALG.rsaSha384]: 'RSA-SHA384',
  [ALG.rsaSha512]: 'RSA-SHA512',
};
const NODE_DIGEST: Record<string, string> = {
  [ALG.sha1]: 'sha1',
  [ALG.sha256]: 'sha256',
  [ALG.sha384]: 'sha384',
  [ALG.sha512]: 'sha512',
};

export interface SignatureOptions {
  /** Accept rsa-sha1 / sha1 (only for IdPs that cannot do better; off by default). */
  allowSha1: boolean;
}

/** A trusted IdP signing certificate (PEM) with its DER form, for matching KeyInfo. */
export interface TrustedCert {
  pem: string;
  der: Buffer;
}

export function toTrustedCert(certificate: string): TrustedCert {
  const body = certificate.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(body, 'base64');
  const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  new X509Certificate(der); // throws on garbage
  return { pem, der };
}

/** The direct-child ds:Signature of `element`, if any; more than one is refused. */
export function directSignature(element: Element): Element | undefined {
  const sigs = childElements(element, NS.dsig, 'Signature');
  if (sigs.length > 1) throw new ConnectorError('saml_signature_wrapping', `<${element.localName}> carries more than one signature`);
  return sigs[0];
}

/** The parts of a signature that inspectSignature has checked, for the cryptographic checks that follow. */
interface InspectedSignature {
  signedInfo: Element;
  c14nMethod: Element;
  /** SignatureMethod algorithm URI. */
  method: string;
  reference: Element;
  /** The Transform elements, in order: enveloped-signature, then optionally exc-c14n. */
  transforms: Element[];
  /** DigestMethod algorithm URI. */
  digest: string;
}

/** Checks the signature's declared structure before any cryptography: the Reference must be the parent's own ID. */
function inspectSignature(element: Element, signature: Element, options: SignatureOptions): InspectedSignature {
  const id = attr(element, 'ID');
  if (!id) throw new ConnectorError('saml_signature_wrapping', `signed <${element.localName}> has no ID`);
  const parts = childElements(signature);
  const allowed = new Set(['SignedInfo', 'SignatureValue', 'KeyInfo']);
  for (const part of parts) {
    if (part.namespaceURI !== NS.dsig || !allowed.has(part.localName ?? '')) {
      throw new ConnectorError('saml_signature_wrapping', `unexpected <${part.localName}> inside the signature`);
    }
  }
  const signedInfos = childElements(signature, NS.dsig, 'SignedInfo');
  if (signedInfos.length !== 1) throw new ConnectorError('saml_signature_invalid', 'the signature must have exactly one SignedInfo');
  const signedInfo = signedInfos[0]!;
  const c14n = childElements(signedInfo, NS.dsig, 'CanonicalizationMethod')[0];
  if (!c14n || attr(c14n, 'Algorithm') !== ALG.excC14n) {
    throw new ConnectorError('saml_signature_algorithm', `SignedInfo canonicalization ${attr(c14n ?? signedInfo, 'Algorithm') ?? '(none)'} is not exclusive c14n`);
  }
  const method = attr(childElements(signedInfo, NS.dsig, 'SignatureMethod')[0] ?? signedInfo, 'Algorithm') ?? '';
  if (!STRONG_SIGNATURE.has(method) && !(options.allowSha1 && method === ALG.rsaSha1)) {
    throw new ConnectorError('saml_signature_algorithm', `signature algorithm ${method || '(none)'} is not accepted`);
  }
  const references = childElements(signedInfo, NS.dsig, 'Reference');
  if (references.length !== 1) throw new ConnectorError('saml_signature_wrapping', `the signature has ${references.length} references, expected exactly one`);
  const reference = references[0]!;
  if (attr(reference, 'URI') !== `#${id}`) {
    throw new ConnectorError('saml_signature_wrapping', `the signature on <${element.localName}> references another element`);
  }
  const transforms = childElements(childElements(reference, NS.dsig, 'Transforms')[0] ?? reference, NS.dsig, 'Transform');
  const algorithms = transforms.map((t) => attr(t, 'Algorithm') ?? '');
  // enveloped-signature first (it works on the node-set), then optionally exc-c14n: what SAML signers emit.
  if (algorithms[0] !== ALG.enveloped || algorithms.length > 2 || (algorithms.length === 2 && algorithms[1] !== ALG.excC14n)) {
    throw new ConnectorError('saml_signature_wrapping', `reference transforms [${algorithms.join(', ')}] are not enveloped-signature + exc-c14n`);
  }
  const digest = attr(childElements(reference, NS.dsig, 'DigestMethod')[0] ?? reference, 'Algorithm') ?? '';
  if (!STRONG_DIGEST.has(digest) && !(options.allowSha1 && digest === ALG.sha1)) {
    throw new ConnectorError('saml_signature_algorithm', `digest algorithm ${digest || '(none)'} is not accepted`);
  }
  return { signedInfo, c14nMethod: c14n, method, reference, transforms, digest };
}

/** Trusted certs ordered so the one named in KeyInfo (if trusted) is tried first; KeyInfo itself is never trusted. */
function candidates(signature: Element, certs: readonly TrustedCert[]): TrustedCert[] {
  const keyInfoCerts = new Set<string>();
  for (const keyInfo of childElements(signature, NS.dsig, 'KeyInfo')) {
    for (const data of childElements(keyInfo, NS.dsig, 'X509Data')) {
      for (const c of childElements(data, NS.dsig, 'X509Certificate')) keyInfoCerts.add(textOf(c).replace(/\s+/g, ''));
    }
  }
  const named = certs.filter((c) => keyInfoCerts.has(c.der.toString('base64')));
  return named.length > 0 ? named : [...certs];
}

/** Public keys of trusted certificates, imported once per certificate (a worker gets its certs as plain data per job). */
const publicKeys = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 64;

function publicKeyOf(cert: TrustedCert): KeyObject {
  let key = publicKeys.get(cert.pem);
  if (!key) {
    if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.clear();
    key = createPublicKey(cert.pem);
    publicKeys.set(cert.pem, key);
  }
  return key;
}

const exclusiveC14n = new ExclusiveCanonicalization();
const inclusiveC14n = new C14nCanonicalization();
/** What xml-crypto passes to its canonicalizers for a prefix without a namespace (unreachable after a namespace-aware parse). */
const DEFAULT_NS_FOR_PREFIX = { ds: NS.dsig };
const XMLNS = 'http://www.w3.org/2000/xmlns/';

interface NamespaceBinding {
  prefix: string;
  namespaceURI: string;
}

/**
 * The namespace declarations of `element`'s ancestors that are in scope at `element` and not redeclared on it (nor its
 * own prefix): what exclusive c14n imports for an InclusiveNamespaces PrefixList and inclusive c14n renders on the apex.
 * The same set as xml-crypto's findAncestorNs for that element.
 */
function ancestorNamespaces(element: Element): NamespaceBinding[] {
  const own = new Set<string>([element.prefix ?? '']);
  for (let i = 0; i < element.attributes.length; i++) {
    const a = element.attributes.item(i)!;
    if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) own.add(a.name === 'xmlns' ? '' : a.name.slice(6));
  }
  const seen = new Set<string>();
  const out: NamespaceBinding[] = [];
  for (let node = element.parentNode; isElement(node); node = node.parentNode) {
    for (let i = 0; i < node.attributes.length; i++) {
      const a = node.attributes.item(i)!;
      if (a.name !== 'xmlns' && !a.name.startsWith('xmlns:')) continue;
      const prefix = a.name === 'xmlns' ? '' : a.name.slice(6);
      if (seen.has(prefix)) continue;
      seen.add(prefix);
      if (a.value !== '' && !own.has(prefix)) out.push({ prefix, namespaceURI: a.value });
    }
  }
  return out;
}

/** The PrefixList of an InclusiveNamespaces child (exclusive c14n parameter), as xml-crypto reads it. */
function inclusivePrefixes(parent: Element | undefined): string[] {
  if (!parent) return [];
  return childElements(parent)
    .filter((el) => el.localName === 'InclusiveNamespaces')
    .flatMap((el) => (el.getAttribute('PrefixList') ?? '').split(' '))
    .filter((prefix) => prefix.length > 0);
}

/**
 * Runs `canonicalize` on `element` as it would be without `detached` (one of its children) and with the declarations
 * of the PrefixList's ancestor namespaces on it (as exclusive c14n imports them), then puts the tree back as it was:
 * no copy of the element is made.
 */
function canonicalizeInPlace(element: Element, detached: Element | undefined, imports: readonly NamespaceBinding[], canonicalize: () => string): string {
  const next = detached?.nextSibling ?? null;
  const added: string[] = [];
  try {
    if (detached) element.removeChild(detached);
    for (const { prefix, namespaceURI } of imports) {
      element.setAttributeNS(XMLNS, `xmlns:${prefix}`, namespaceURI);
      added.push(prefix);
    }
    return canonicalize();
  } finally {
    for (const prefix of added) element.removeAttributeNS(XMLNS, prefix);
    if (detached) element.insertBefore(detached, next);
  }
}

/** Exclusive c14n of `element` (less `detached`) with an InclusiveNamespaces PrefixList, as xml-crypto applies it. */
function exclusiveOctets(element: Element, detached: Element | undefined, prefixes: string[]): string {
  const imports = prefixes.length > 0 ? ancestorNamespaces(element).filter((ns) => prefixes.includes(ns.prefix)) : [];
  const options = { inclusiveNamespacesPrefixList: prefixes, defaultNsForPrefix: DEFAULT_NS_FOR_PREFIX };
  return canonicalizeInPlace(element, detached, imports, () => exclusiveC14n.process(element as unknown as globalThis.Element, options));
}

/**
 * The octets the Reference digests: `element` without its enveloped `signature`, canonicalized by the Reference's last
 * transform (exclusive c14n, with its PrefixList) or, when enveloped-signature is the only transform, by inclusive c14n
 * (xmldsig-core1 4.4.3.2: a node-set left at the end is serialised with C14N 1.0).
 */
function referencedOctets(element: Element, signature: Element, transforms: readonly Element[]): string {
  const last = transforms[transforms.length - 1]!;
  if (attr(last, 'Algorithm') === ALG.excC14n) return exclusiveOctets(element, signature, inclusivePrefixes(last));
  const options = { ancestorNamespaces: ancestorNamespaces(element), defaultNsForPrefix: DEFAULT_NS_FOR_PREFIX };
  return canonicalizeInPlace(element, signature, [], () => inclusiveC14n.process(element as unknown as globalThis.Node, options));
}

/** Runs a canonicalization; a node the canonicalizer cannot render fails the signature (as it did inside xml-crypto), never a 500. */
function canonical(element: Element, run: () => string): string {
  try {
    return run();
  } catch (error) {
    throw new ConnectorError('saml_signature_invalid', `the signature on <${element.localName}> covers content that cannot be canonicalized (${String((error as Error).message).slice(0, 120)})`);
  }
}

/** Whether `cert`'s key made `signatureBytes` over `octets`; a key or signature the library cannot use is a mismatch. */
function signs(cert: TrustedCert, method: string, octets: Buffer, signatureBytes: Buffer): boolean {
  try {
    return cryptoVerify(NODE_HASH[method]!, octets, publicKeyOf(cert), signatureBytes);
  } catch {
    return false;
  }
}

/** Text content of a base64 element (DigestValue, SignatureValue), decoded; xml-crypto's reading, whitespace ignored. */
function base64Of(el: Element): Buffer {
  return Buffer.from((el.textContent ?? '').replace(/\s+/g, ''), 'base64');
}

/**
 * Verifies the enveloped signature that is a direct child of `element`, on the parsed document itself (no second parse,
 * no XPath): the Reference's digest over `element` minus its signature, then SignatureValue over SignedInfo with each
 * trusted key in turn (imported once). Returns the root element of the canonical XML that the signature covers,
 * re-parsed: callers read values from it, never from the original tree. Returns undefined when `element` carries no
 * signature.
 */
export function verifyEnvelopedSignature(element: Element, certs: readonly TrustedCert[], options: SignatureOptions): Element | undefined {
  const signature = directSignature(element);
  if (!signature) return undefined;
  const { signedInfo, c14nMethod, method, reference, transforms, digest } = inspectSignature(element, signature, options);
  if (certs.length === 0) throw new ConnectorError('saml_signature_invalid', 'no trusted IdP signing certificate is configured');
  const digestValues = childElements(reference, NS.dsig, 'DigestValue');
  const signatureValues = childElements(signature, NS.dsig, 'SignatureValue');
  if (digestValues.length !== 1 || signatureValues.length !== 1) {
    throw new ConnectorError('saml_signature_invalid', 'the signature must have exactly one DigestValue and one SignatureValue');
  }
  const covered = canonical(element, () => referencedOctets(element, signature, transforms));
  const expectedDigest = base64Of(digestValues[0]!);
  if (expectedDigest.length === 0 || !createHash(NODE_DIGEST[digest]!).update(covered).digest().equals(expectedDigest)) {
    throw new ConnectorError('saml_signature_invalid', `signature on <${element.localName}> is not valid for any trusted certificate (the digest of the signed element does not match)`);
  }
  const signedOctets = Buffer.from(canonical(element, () => exclusiveOctets(signedInfo, undefined, inclusivePrefixes(c14nMethod))), 'utf8');
  const signatureBytes = base64Of(signatureValues[0]!);
  const trusted = candidates(signature, certs).some((cert) => signs(cert, method, signedOctets, signatureBytes));
  if (!trusted) throw new ConnectorError('saml_signature_invalid', `signature on <${element.localName}> is not valid for any trusted certificate (signature value does not verify)`);
  return parseUntrustedXml(covered).documentElement!;
}

/** Signs a SAML protocol message (enveloped, exc-c14n, RSA-SHA256) with the signature placed after its Issuer. */
export function signMessage(xml: string, privateKeyPem: string, certPem: string): string {
  const signer = new SignedXml({
    privateKey: privateKeyPem,
    publicCert: certPem,
    signatureAlgorithm: ALG.rsaSha256,
    canonicalizationAlgorithm: ALG.excC14n,
    getKeyInfoContent: SignedXml.getKeyInfoContent,
  });
  signer.addReference({ xpath: '/*', transforms: [ALG.enveloped, ALG.excC14n], digestAlgorithm: ALG.sha256 });
  signer.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `/*/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return signer.getSignedXml();
}

/**
 * HTTP-Redirect binding signature (saml-bindings §3.4.4.1): signs `SAMLRequest=..&RelayState=..&SigAlg=..`
 * (values already URL-encoded) and returns the full query string.
 */
export function signRedirectQuery(messageParam: 'SAMLRequest' | 'SAMLResponse', encodedMessage: string, relayState: string | undefined, privateKeyPem: string): string {
  let octets = `${messageParam}=${encodeURIComponent(encodedMessage)}`;
  if (relayState !== undefined) octets += `&RelayState=${encodeURIComponent(relayState)}`;
  octets += `&SigAlg=${encodeURIComponent(ALG.rsaSha256)}`;
  const signature = createSign('RSA-SHA256').update(octets).sign(privateKeyPem, 'base64');
  return `${octets}&Signature=${encodeURIComponent(signature)}`;
}

/** Verifies an HTTP-Redirect binding signature over the raw (still URL-encoded) query parameters, in binding order. */
export function verifyRedirectQuery(rawQuery: string, messageParam: 'SAMLRequest' | 'SAMLResponse', certs: readonly TrustedCert[], options: SignatureOptions): boolean {
  const raw = new Map<string, string>();
  for (const pair of rawQuery.replace(/^\?/, '').split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (raw.has(key)) throw new ConnectorError('saml_invalid_message', `repeated query parameter ${key}`);
    raw.set(key, eq < 0 ? '' : pair.slice(eq + 1));
  }
  const sigAlgRaw = raw.get('SigAlg');
  const signatureRaw = raw.get('Signature');
  if (sigAlgRaw === undefined || signatureRaw === undefined) return false;
  const sigAlg = decodeURIComponent(sigAlgRaw.replace(/\+/g, ' '));
  if (!STRONG_SIGNATURE.has(sigAlg) && !(options.allowSha1 && sigAlg === ALG.rsaSha1)) {
    throw new ConnectorError('saml_signature_algorithm', `signature algorithm ${sigAlg} is not accepted`);
  }
  let octets = `${messageParam}=${raw.get(messageParam) ?? ''}`;
  if (raw.has('RelayState')) octets += `&RelayState=${raw.get('RelayState')}`;
  octets += `&SigAlg=${sigAlgRaw}`;
  const signature = Buffer.from(decodeURIComponent(signatureRaw.replace(/\+/g, ' ')), 'base64');
  return certs.some((cert) => createVerify(NODE_HASH[sigAlg]!).update(octets).verify(createPublicKey(cert.pem), signature));
}
