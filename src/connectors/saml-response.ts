// Verifies a SAML Response and returns the facts of its single Assertion, read only from what a trusted signature covers.
import { promisify } from 'node:util';
import { XMLSerializer } from '@xmldom/xmldom';
import type { Element } from '@xmldom/xmldom';
import { createRequire } from 'node:module';
import { ConnectorError } from './connector.js';
import { verifyEnvelopedSignature, type SignatureOptions, type TrustedCert } from './saml-signature.js';
import {
  NS,
  assertUniqueIds,
  attr,
  childElements,
  descendants,
  is,
  optionalChild,
  parseInstant,
  parseUntrustedXml,
  requiredChild,
  textOf,
} from './saml-xml.js';

export type SignaturePolicy = 'assertion' | 'response' | 'either' | 'both';

const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

export interface ResponseCheckOptions {
  idpEntityId: string;
  certs: readonly TrustedCert[];
  spEntityId: string;
  acsUrl: string;
  /** The pending AuthnRequest ID; undefined only for an IdP-initiated (unsolicited) response the caller allows. */
  expectedRequestId: string | undefined;
  now: number;
  clockSkewMs: number;
  signaturePolicy: SignaturePolicy;
  signature: SignatureOptions;
  requireEncryption: boolean;
  /** SP decryption keys (PEM), current first; several during a key rollover. */
  decryptionKeys: readonly string[];
  /** Offline schema validation of the message (and of a decrypted assertion); rejects with saml_schema_invalid. */
  validateSchema?: (xml: string) => Promise<void>;
}

export interface SamlAttribute {
  name: string;
  friendlyName?: string;
  values: string[];
}

export interface VerifiedAssertion {
  responseId: string;
  assertionId: string;
  issuer: string;
  nameId: string;
  nameIdFormat?: string;
  nameQualifier?: string;
  spNameQualifier?: string;
  sessionIndex?: string;
  authnInstant?: number;
  /** The AuthnStatement's SessionNotOnOrAfter (ms): the broker session ends then. */
  sessionNotOnOrAfter?: number;
  authnContextClassRef?: string;
  attributes: SamlAttribute[];
  /** Until when the assertion could be replayed (ms): the replay cache keeps its ID that long. */
  replayUntil: number;
  encrypted: boolean;
  signedParts: Array<'response' | 'assertion'>;
}

const xmlenc = createRequire(import.meta.url)('@authenio/xml-encryption') as {
  decrypt(xml: string, options: Record<string, unknown>, callback: (err: Error | null, result?: string) => void): void;
};
const decryptAsync = promisify((xml: string, options: Record<string, unknown>, cb: (err: Error | null, result?: string) => void) => xmlenc.decrypt(xml, options, cb));

const TOP_LEVEL_STATUS = new Set(['Success', 'Requester', 'Responder', 'VersionMismatch'].map((code) => `${STATUS}${code}`));

function statusError(response: Element): ConnectorError | undefined {
  const status = requiredChild(response, NS.protocol, 'Status');
  const top = requiredChild(status, NS.protocol, 'StatusCode');
  const value = attr(top, 'Value') ?? '';
  if (value === `${STATUS}Success`) return undefined;
  // SAML core 3.2.2.2: the top-level code MUST be one of these four; anything else is a malformed message, not an IdP error.
  if (!TOP_LEVEL_STATUS.has(value)) return new ConnectorError('saml_invalid_message', `top-level StatusCode "${value.slice(0, 100)}" is not one SAML defines`);
  const second = attr(optionalChild(top, NS.protocol, 'StatusCode') ?? top, 'Value');
  const message = optionalChild(status, NS.protocol, 'StatusMessage');
  const detail = `IdP status ${value.replace(STATUS, '')}${second && second !== value ? `/${second.replace(STATUS, '')}` : ''}${message ? `: ${textOf(message).slice(0, 200)}` : ''}`;
  const sub = second?.replace(STATUS, '');
  if (sub === 'AuthnFailed') return new ConnectorError('saml_authn_failed', detail, { status: 401 });
  if (sub === 'NoPassive') return new ConnectorError('saml_no_passive', detail, { status: 401 });
  if (sub === 'RequestDenied') return new ConnectorError('saml_request_denied', detail, { status: 403 });
  if (value === `${STATUS}Responder`) return new ConnectorError('saml_status_responder', detail, { status: 502 });
  if (value === `${STATUS}Requester`) return new ConnectorError('saml_status_requester', detail, { status: 502 });
  return new ConnectorError('saml_status_error', detail, { status: 502 });
}

function checkVersion(el: Element): void {
  if (attr(el, 'Version') !== '2.0') throw new ConnectorError('saml_invalid_message', `<${el.localName}> is not SAML 2.0`);
}

/** The Issuer (when present, or when `required`) must be the IdP's entityID, in entity format. */
function checkIssuer(el: Element, idpEntityId: string, required: boolean): void {
  const issuer = optionalChild(el, NS.assertion, 'Issuer');
  if (!issuer) {
    if (required) throw new ConnectorError('saml_issuer_mismatch', `<${el.localName}> has no Issuer`);
    return;
  }
  const format = attr(issuer, 'Format');
  if (format !== undefined && format !== 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity') {
    throw new ConnectorError('saml_issuer_mismatch', `<${el.localName}> Issuer has format ${format}`);
  }
  const value = textOf(issuer);
  if (value !== idpEntityId) throw new ConnectorError('saml_issuer_mismatch', `<${el.localName}> Issuer "${value.slice(0, 200)}" is not ${idpEntityId}`);
}

/**
 * Signatures may only sit where SAML puts them: directly under the Response or directly under the Assertion.
 * Anything else (inside Extensions, Objects, other signatures) is a wrapping attempt.
 */
function checkSignaturePlacement(root: Element, allowedParents: Element[]): void {
  for (const el of descendants(root)) {
    if (el.localName !== 'Signature') continue;
    if (!allowedParents.includes(el.parentNode as Element) || !is(el, NS.dsig, 'Signature')) {
      throw new ConnectorError('saml_signature_wrapping', `a signature appears inside <${(el.parentNode as Element | null)?.localName ?? '?'}>`);
    }
  }
}

async function decryptAssertion(encrypted: Element, keys: readonly string[]): Promise<string> {
  const xml = new XMLSerializer().serializeToString(encrypted);
  const encryptedData = childElements(encrypted, NS.xenc, 'EncryptedData');
  if (encryptedData.length !== 1) throw new ConnectorError('saml_decrypt_failed', 'EncryptedAssertion must hold exactly one EncryptedData');
  let lastError = 'no SP decryption key is configured';
  for (const key of keys) {
    try {
      const plain = await decryptAsync(xml, { key, disallowDecryptionWithInsecureAlgorithm: true, warnInsecureAlgorithm: false });
      if (typeof plain === 'string' && plain.length > 0) return plain;
    } catch (error) {
      lastError = String((error as Error).message).slice(0, 160);
    }
  }
  throw new ConnectorError('saml_decrypt_failed', `the encrypted assertion cannot be decrypted (${lastError})`);
}

/** Parses a decrypted assertion as its own hardened document. */
function parseDecrypted(plain: string): Element {
  const root = parseUntrustedXml(plain).documentElement!;
  if (!is(root, NS.assertion, 'Assertion')) throw new ConnectorError('saml_decrypt_failed', 'the decrypted content is not an Assertion');
  assertUniqueIds(root);
  if (descendants(root).filter((el) => el.localName === 'Assertion' || el.localName === 'EncryptedAssertion').length !== 1) {
    throw new ConnectorError('saml_multiple_assertions', 'the decrypted assertion contains another assertion');
  }
  checkSignaturePlacement(root, [root]);
  return root;
}

/**
 * The InResponseTo rule for a Response and for its SubjectConfirmationData: it must name the pending request; with no
 * pending request (IdP-initiated), it must be absent.
 */
function inResponseToError(inResponseTo: string | undefined, expectedRequestId: string | undefined, what: string): ConnectorError | undefined {
  if (expectedRequestId === undefined) {
    return inResponseTo === undefined ? undefined : new ConnectorError('saml_in_response_to_mismatch', `${what} answers an unknown request (IdP-initiated)`);
  }
  if (inResponseTo === undefined) return new ConnectorError('saml_unsolicited', `${what} does not answer the pending request`);
  if (inResponseTo !== expectedRequestId) return new ConnectorError('saml_in_response_to_mismatch', `${what} answers another request`);
  return undefined;
}

function attributeValues(attribute: Element): string[] {
  const values: string[] = [];
  for (const value of childElements(attribute, NS.assertion, 'AttributeValue')) {
    if (value.getAttributeNS('http://www.w3.org/2001/XMLSchema-instance', 'nil') === 'true') continue;
    const nested = childElements(value);
    if (nested.length === 0) values.push(textOf(value));
    else if (nested.length === 1 && is(nested[0]!, NS.assertion, 'NameID')) values.push(textOf(nested[0]!));
  }
  return values;
}

/** Checks every SAML condition on the verified assertion and reads the facts the connector maps. */
function readAssertion(assertion: Element, options: ResponseCheckOptions): Omit<VerifiedAssertion, 'responseId' | 'encrypted' | 'signedParts'> {
  const { now, clockSkewMs: skew } = options;
  checkVersion(assertion);
  const assertionId = attr(assertion, 'ID');
  if (!assertionId) throw new ConnectorError('saml_invalid_message', 'the Assertion has no ID');
  checkIssuer(assertion, options.idpEntityId, true);

  const subject = requiredChild(assertion, NS.assertion, 'Subject', 'saml_missing_nameid');
  const nameIdEl = optionalChild(subject, NS.assertion, 'NameID', 'saml_missing_nameid');
  if (!nameIdEl) throw new ConnectorError('saml_missing_nameid', 'the Subject has no (unencrypted) NameID');
  const nameId = textOf(nameIdEl);
  if (!nameId) throw new ConnectorError('saml_missing_nameid', 'the NameID is empty');

  // Bearer subject confirmation (saml-profiles §4.1.4.2): at least one must satisfy every check.
  const bearers = childElements(subject, NS.assertion, 'SubjectConfirmation').filter((sc) => attr(sc, 'Method') === BEARER);
  if (bearers.length === 0) throw new ConnectorError('saml_subject_confirmation', 'the assertion has no bearer SubjectConfirmation');
  let confirmedUntil: number | undefined;
  let firstProblem: ConnectorError | undefined;
  for (const bearer of bearers) {
    const data = optionalChild(bearer, NS.assertion, 'SubjectConfirmationData');
    const problem = ((): ConnectorError | number => {
      if (!data) return new ConnectorError('saml_subject_confirmation', 'bearer confirmation has no SubjectConfirmationData');
      const recipient = attr(data, 'Recipient');
      if (recipient !== options.acsUrl) return new ConnectorError('saml_recipient_mismatch', `Recipient "${(recipient ?? '(none)').slice(0, 200)}" is not ${options.acsUrl}`);
      const notOnOrAfter = parseInstant(attr(data, 'NotOnOrAfter'), 'SubjectConfirmationData NotOnOrAfter');
      if (notOnOrAfter === undefined) return new ConnectorError('saml_subject_confirmation', 'SubjectConfirmationData has no NotOnOrAfter');
      if (now - skew >= notOnOrAfter) return new ConnectorError('saml_expired', 'the subject confirmation has expired');
      const notBefore = parseInstant(attr(data, 'NotBefore'), 'SubjectConfirmationData NotBefore');
      if (notBefore !== undefined && now + skew < notBefore) return new ConnectorError('saml_not_yet_valid', 'the subject confirmation is not yet valid');
      return inResponseToError(attr(data, 'InResponseTo'), options.expectedRequestId, 'the subject confirmation') ?? notOnOrAfter;
    })();
    if (typeof problem === 'number') {
      confirmedUntil = Math.max(confirmedUntil ?? 0, problem);
    } else firstProblem ??= problem;
  }
  if (confirmedUntil === undefined) throw firstProblem!;

  const conditions = optionalChild(assertion, NS.assertion, 'Conditions');
  if (!conditions) throw new ConnectorError('saml_audience_mismatch', 'the assertion has no Conditions (no audience restriction)');
  const notBefore = parseInstant(attr(conditions, 'NotBefore'), 'Conditions NotBefore');
  const notOnOrAfter = parseInstant(attr(conditions, 'NotOnOrAfter'), 'Conditions NotOnOrAfter');
  if (notBefore !== undefined && now + skew < notBefore) throw new ConnectorError('saml_not_yet_valid', 'the assertion is not yet valid');
  if (notOnOrAfter !== undefined && now - skew >= notOnOrAfter) throw new ConnectorError('saml_expired', 'the assertion has expired');
  const restrictions = childElements(conditions, NS.assertion, 'AudienceRestriction');
  if (restrictions.length === 0) throw new ConnectorError('saml_audience_mismatch', 'the assertion has no AudienceRestriction');
  for (const restriction of restrictions) {
    const audiences = childElements(restriction, NS.assertion, 'Audience').map(textOf);
    if (!audiences.includes(options.spEntityId)) {
      throw new ConnectorError('saml_audience_mismatch', `audience [${audiences.join(', ').slice(0, 200)}] does not include ${options.spEntityId}`);
    }
  }

  const authn = childElements(assertion, NS.assertion, 'AuthnStatement')[0];
  if (!authn) throw new ConnectorError('saml_invalid_message', 'the assertion has no AuthnStatement');
  const sessionNotOnOrAfter = parseInstant(attr(authn, 'SessionNotOnOrAfter'), 'SessionNotOnOrAfter');
  if (sessionNotOnOrAfter !== undefined && now - skew >= sessionNotOnOrAfter) throw new ConnectorError('saml_expired', 'the IdP session has ended');
  const classRef = optionalChild(optionalChild(authn, NS.assertion, 'AuthnContext') ?? authn, NS.assertion, 'AuthnContextClassRef');

  const attributes: SamlAttribute[] = [];
  for (const statement of childElements(assertion, NS.assertion, 'AttributeStatement')) {
    for (const attribute of childElements(statement, NS.assertion, 'Attribute')) {
      const name = attr(attribute, 'Name');
      if (!name) continue;
      const friendlyName = attr(attribute, 'FriendlyName');
      attributes.push({ name, ...(friendlyName ? { friendlyName } : {}), values: attributeValues(attribute) });
    }
  }

  const result: Omit<VerifiedAssertion, 'responseId' | 'encrypted' | 'signedParts'> = {
    assertionId,
    issuer: options.idpEntityId,
    nameId,
    attributes,
    replayUntil: Math.max(confirmedUntil, notOnOrAfter ?? 0) + skew,
  };
  const format = attr(nameIdEl, 'Format');
  if (format) result.nameIdFormat = format;
  const nameQualifier = attr(nameIdEl, 'NameQualifier');
  if (nameQualifier) result.nameQualifier = nameQualifier;
  const spNameQualifier = attr(nameIdEl, 'SPNameQualifier');
  if (spNameQualifier) result.spNameQualifier = spNameQualifier;
  const sessionIndex = attr(authn, 'SessionIndex');
  if (sessionIndex) result.sessionIndex = sessionIndex;
  const authnInstant = parseInstant(attr(authn, 'AuthnInstant'), 'AuthnInstant');
  if (authnInstant !== undefined) result.authnInstant = authnInstant;
  if (sessionNotOnOrAfter !== undefined) result.sessionNotOnOrAfter = sessionNotOnOrAfter;
  if (classRef) result.authnContextClassRef = textOf(classRef);
  return result;
}

/**
 * Verifies a decoded SAML Response. Order: hardened parse, structure (one assertion, unique IDs, signatures only where
 * SAML puts them), schema, Response signature (a present but broken signature is fatal, never skipped), status,
 * Response checks, decryption, Assertion signature, signature policy, then every Assertion condition.
 */
export async function verifyLoginResponse(xml: string, options: ResponseCheckOptions): Promise<VerifiedAssertion> {
  const doc = parseUntrustedXml(xml);
  const root = doc.documentElement!;
  if (!is(root, NS.protocol, 'Response')) throw new ConnectorError('saml_invalid_message', `expected a Response, got <${root.localName}>`);
  checkVersion(root);
  assertUniqueIds(root);
  const assertionLike = descendants(root).filter((el) => el.localName === 'Assertion' || el.localName === 'EncryptedAssertion');
  if (assertionLike.length > 1) throw new ConnectorError('saml_multiple_assertions', `the Response holds ${assertionLike.length} assertions`);
  const assertionNode = assertionLike.length === 1 && assertionLike[0]!.parentNode === root ? assertionLike[0]! : undefined;
  checkSignaturePlacement(root, assertionNode && is(assertionNode, NS.assertion, 'Assertion') ? [root, assertionNode] : [root]);
  if (options.validateSchema) await options.validateSchema(xml);

  const sig = options.signature;
  const responseView = verifyEnvelopedSignature(root, options.certs, sig);
  const response = responseView ?? root;

  const status = statusError(response);
  if (status) throw status;

  if (!assertionNode) throw new ConnectorError('saml_no_assertion', assertionLike.length === 0 ? 'the Response holds no assertion' : 'the assertion is not a direct child of the Response');
  const responseId = attr(response, 'ID');
  if (!responseId) throw new ConnectorError('saml_invalid_message', 'the Response has no ID');
  checkIssuer(response, options.idpEntityId, false);

  const destination = attr(response, 'Destination');
  if (destination !== undefined ? destination !== options.acsUrl : responseView !== undefined) {
    throw new ConnectorError('saml_destination_mismatch', `Destination "${(destination ?? '(none)').slice(0, 200)}" is not ${options.acsUrl}`);
  }
  const inResponseToProblem = inResponseToError(attr(response, 'InResponseTo'), options.expectedRequestId, 'the Response');
  if (inResponseToProblem) throw inResponseToProblem;

  let assertionSigned: Element | undefined;
  let coveredByResponse: Element | undefined;
  const encrypted = is(assertionNode, NS.assertion, 'EncryptedAssertion');
  if (encrypted) {
    // Decrypt what the Response signature covers when there is one, so the ciphertext used is the signed one.
    const source = responseView ? requiredChild(responseView, NS.assertion, 'EncryptedAssertion', 'saml_signature_wrapping') : assertionNode;
    const plain = await decryptAssertion(source, options.decryptionKeys);
    const decrypted = parseDecrypted(plain);
    if (options.validateSchema) await options.validateSchema(plain);
    assertionSigned = verifyEnvelopedSignature(decrypted, options.certs, sig);
    if (responseView) coveredByResponse = decrypted;
  } else {
    if (!is(assertionNode, NS.assertion, 'Assertion')) throw new ConnectorError('saml_invalid_message', 'the assertion is in the wrong namespace');
    if (options.requireEncryption) throw new ConnectorError('saml_encryption_required', 'this connector accepts encrypted assertions only');
    assertionSigned = verifyEnvelopedSignature(assertionNode, options.certs, sig);
    if (responseView) coveredByResponse = requiredChild(responseView, NS.assertion, 'Assertion', 'saml_signature_wrapping');
  }

  const signedParts: Array<'response' | 'assertion'> = [];
  if (responseView) signedParts.push('response');
  if (assertionSigned) signedParts.push('assertion');
  const policy = options.signaturePolicy;
  const policyMet =
    policy === 'assertion' ? !!assertionSigned : policy === 'response' ? !!responseView : policy === 'both' ? !!assertionSigned && !!responseView : signedParts.length > 0;
  if (!policyMet) {
    throw new ConnectorError('saml_signature_missing', `signature policy "${policy}" not met (signed: ${signedParts.join('+') || 'nothing'})`);
  }
  const assertion = assertionSigned ?? coveredByResponse!;
  return { responseId, encrypted, signedParts, ...readAssertion(assertion, options) };
}
