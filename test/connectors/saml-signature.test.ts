// The enveloped-signature verifier on the parsed document: every transform shape and namespace import it accepts, checked against xml-crypto's signer.
import { createHash, createSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignedXml } from 'xml-crypto';
import type { Element } from '@xmldom/xmldom';
import { ConnectorError } from '../../src/connectors/connector.js';
import { ALG, toTrustedCert, verifyEnvelopedSignature } from '../../src/connectors/saml-signature.js';
import { NS, parseUntrustedXml } from '../../src/connectors/saml-xml.js';
import { ATTACKER_CERT, IDP_CERT, IDP_KEY } from '../helpers/upstream-saml.js';
import { A, byName, serialize } from '../helpers/saml-forgery.js';

const TRUSTED = [toTrustedCert(IDP_CERT)];
const STRICT = { allowSha1: false };
const XS = 'http://www.w3.org/2001/XMLSchema';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const RSA_SHA384 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384';
const SHA384 = 'http://www.w3.org/2001/04/xmldsig-more#sha384';

/**
 * A Response whose Assertion declares no namespace of its own: `saml`, `xs` and `xsi` are declared on the Response, so
 * the canonical Assertion needs them imported (visibly used, or through an InclusiveNamespaces PrefixList).
 */
const RESPONSE =
  `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${A}" xmlns:xs="${XS}" xmlns:xsi="${XSI}" ID="_r1" Version="2.0">` +
  `<saml:Assertion ID="_a1" Version="2.0"><saml:Issuer>https://idp.example.test/metadata</saml:Issuer>` +
  `<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject>` +
  `<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue xsi:type="xs:string">alice@acme.test</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>` +
  `</saml:Assertion></samlp:Response>`;

interface SignShape {
  transforms: string[];
  referencePrefixes?: string[];
  signedInfoPrefixes?: string[];
  signatureAlgorithm?: string;
  digestAlgorithm?: string;
}

/** xml-crypto has no SHA-384 classes: the signer gets them here, so a SHA-384 signature can be made. */
class RsaSha384 {
  getSignature(signedInfo: string, privateKey: string): string {
    return createSign('RSA-SHA384').update(signedInfo).sign(privateKey, 'base64');
  }
  verifySignature(): boolean {
    throw new Error('not used');
  }
  getAlgorithmName(): string {
    return RSA_SHA384;
  }
}
class Sha384 {
  getHash(xml: string): string {
    return createHash('sha384').update(xml, 'utf8').digest('base64');
  }
  getAlgorithmName(): string {
    return SHA384;
  }
}

/** Signs the Assertion of RESPONSE with the IdP key (signature after its Issuer), as xml-crypto would for an IdP. */
function signAssertion(shape: SignShape): string {
  const signer = new SignedXml({
    privateKey: IDP_KEY,
    publicCert: IDP_CERT,
    signatureAlgorithm: shape.signatureAlgorithm ?? ALG.rsaSha256,
    canonicalizationAlgorithm: ALG.excC14n,
    ...(shape.signedInfoPrefixes ? { inclusiveNamespacesPrefixList: shape.signedInfoPrefixes } : {}),
  });
  (signer.SignatureAlgorithms as Record<string, unknown>)[RSA_SHA384] = RsaSha384;
  (signer.HashAlgorithms as Record<string, unknown>)[SHA384] = Sha384;
  signer.addReference({
    xpath: "//*[local-name(.)='Assertion']",
    transforms: shape.transforms as never,
    digestAlgorithm: shape.digestAlgorithm ?? ALG.sha256,
    ...(shape.referencePrefixes ? { inclusiveNamespacesPrefixList: shape.referencePrefixes } : {}),
  });
  signer.computeSignature(RESPONSE, { prefix: 'ds', location: { reference: "//*[local-name(.)='Assertion']/*[local-name(.)='Issuer']", action: 'after' } });
  return signer.getSignedXml();
}

function assertionOf(xml: string): Element {
  return byName(parseUntrustedXml(xml), A, 'Assertion')[0]!;
}

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof ConnectorError) return error.code;
    throw error;
  }
  throw new Error('the signature was accepted');
}

const SHAPES: Array<[string, SignShape]> = [
  ['enveloped-signature + exc-c14n', { transforms: [ALG.enveloped, ALG.excC14n] }],
  ['enveloped-signature + exc-c14n with a PrefixList naming ancestor namespaces', { transforms: [ALG.enveloped, ALG.excC14n], referencePrefixes: ['xs', 'xsi'] }],
  ['a PrefixList on the SignedInfo canonicalization', { transforms: [ALG.enveloped, ALG.excC14n], signedInfoPrefixes: ['saml', 'xs'] }],
  ['enveloped-signature alone (inclusive c14n, ancestor namespaces rendered)', { transforms: [ALG.enveloped] }],
  ['RSA-SHA384 with a SHA-384 digest', { transforms: [ALG.enveloped, ALG.excC14n], signatureAlgorithm: RSA_SHA384, digestAlgorithm: SHA384 }],
];

describe('verifyEnvelopedSignature', () => {
  for (const [name, shape] of SHAPES) {
    it(`verifies ${name}, reads from the signed octets and leaves the document as it was`, () => {
      const signed = signAssertion(shape);
      const assertion = assertionOf(signed);
      const before = serialize(assertion.ownerDocument!);
      const view = verifyEnvelopedSignature(assertion, TRUSTED, STRICT)!;
      expect(view.localName).toBe('Assertion');
      expect(byName(view, A, 'NameID')[0]!.textContent).toBe('alice');
      expect(byName(view, 'http://www.w3.org/2000/09/xmldsig#', 'Signature')).toHaveLength(0);
      expect(serialize(assertion.ownerDocument!)).toBe(before);
    });

    it(`refuses a changed NameID under ${name}`, () => {
      const forged = signAssertion(shape).replace('>alice</saml:NameID>', '>victim-admin</saml:NameID>');
      expect(codeOf(() => verifyEnvelopedSignature(assertionOf(forged), TRUSTED, STRICT))).toBe('saml_signature_invalid');
    });
  }

  it('refuses a changed namespace of an imported prefix (the digest covers the imported declaration)', () => {
    const signed = signAssertion({ transforms: [ALG.enveloped, ALG.excC14n], referencePrefixes: ['xs'] });
    const forged = signed.replace(`xmlns:xs="${XS}"`, 'xmlns:xs="urn:evil"');
    expect(codeOf(() => verifyEnvelopedSignature(assertionOf(forged), TRUSTED, STRICT))).toBe('saml_signature_invalid');
  });

  it('refuses a signature that does not verify with a trusted key, even when the digest matches', () => {
    const signed = signAssertion({ transforms: [ALG.enveloped, ALG.excC14n] });
    expect(codeOf(() => verifyEnvelopedSignature(assertionOf(signed), [toTrustedCert(ATTACKER_CERT)], STRICT))).toBe('saml_signature_invalid');
  });

  it('refuses transforms in another order than enveloped-signature then exc-c14n', () => {
    const signed = signAssertion({ transforms: [ALG.excC14n, ALG.enveloped] });
    expect(codeOf(() => verifyEnvelopedSignature(assertionOf(signed), TRUSTED, STRICT))).toBe('saml_signature_wrapping');
  });
});
