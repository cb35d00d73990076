// XML signature checks that close samlify#634: one enveloped signature, one Reference to its own parent's ID, strong algorithms.
import { createPublicKey, createSign, createVerify, X509Certificate } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import type { Element } from '@xmldom/xmldom';
import { ConnectorError } from './connector.js';
import { NS, attr, childElements, is, parseUntrustedXml, textOf } from './saml-xml.js';

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

/** Checks the signature's declared structure before any cryptography: the Reference must be the parent's own ID. */
function inspectSignature(element: Element, signature: Element, options: SignatureOptions): void {
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
  const transforms = childElements(childElements(reference, NS.dsig, 'Transforms')[0] ?? reference, NS.dsig, 'Transform').map((t) => attr(t, 'Algorithm') ?? '');
  if (!transforms.includes(ALG.enveloped) || transforms.some((t) => t !== ALG.enveloped && t !== ALG.excC14n) || transforms.length > 2) {
    throw new ConnectorError('saml_signature_wrapping', `reference transforms [${transforms.join(', ')}] are not enveloped-signature + exc-c14n`);
  }
  const digest = attr(childElements(reference, NS.dsig, 'DigestMethod')[0] ?? reference, 'Algorithm') ?? '';
  if (!STRONG_DIGEST.has(digest) && !(options.allowSha1 && digest === ALG.sha1)) {
    throw new ConnectorError('saml_signature_algorithm', `digest algorithm ${digest || '(none)'} is not accepted`);
  }
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

/**
 * Verifies the enveloped signature that is a direct child of `element` inside the document serialised as `xml`.
 * Returns the root element of the canonical XML that the signature covers, re-parsed: callers read values from it,
 * never from the original tree. Returns undefined when `element` carries no signature.
 */
export function verifyEnvelopedSignature(
  xml: string,
  element: Element,
  certs: readonly TrustedCert[],
  options: SignatureOptions,
): Element | undefined {
  const signature = directSignature(element);
  if (!signature) return undefined;
  inspectSignature(element, signature, options);
  if (certs.length === 0) throw new ConnectorError('saml_signature_invalid', 'no trusted IdP signing certificate is configured');
  let lastError = 'signature value does not verify';
  for (const cert of candidates(signature, certs)) {
    const verifier = new SignedXml({ publicCert: cert.pem, getCertFromKeyInfo: () => null });
    try {
      verifier.loadSignature(signature as unknown as Node);
      if (!verifier.checkSignature(xml)) continue;
    } catch (error) {
      lastError = String((error as Error).message).slice(0, 160);
      continue;
    }
    const signed = verifier.getSignedReferences();
    if (signed.length !== 1) throw new ConnectorError('saml_signature_wrapping', 'the verified signature does not cover exactly one element');
    const view = parseUntrustedXml(signed[0]!).documentElement!;
    if (!is(view, element.namespaceURI ?? '', element.localName ?? '') || attr(view, 'ID') !== attr(element, 'ID')) {
      throw new ConnectorError('saml_signature_wrapping', `the verified signature does not cover this <${element.localName}>`);
    }
    return view;
  }
  throw new ConnectorError('saml_signature_invalid', `signature on <${element.localName}> is not valid for any trusted certificate (${lastError})`);
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
