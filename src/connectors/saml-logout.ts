// Single Logout messages from the IdP: a LogoutRequest must carry its OWN signature over its OWN ID (blocks samlify#634).
import { ConnectorError } from './connector.js';
import { verifyEnvelopedSignature, verifyRedirectQuery, type SignatureOptions, type TrustedCert } from './saml-signature.js';
import {
  NS,
  assertUniqueIds,
  attr,
  childElements,
  decodePostBinding,
  decodeRedirectBinding,
  descendants,
  is,
  optionalChild,
  parseInstant,
  parseUntrustedXml,
  textOf,
} from './saml-xml.js';
import type { Element } from '@xmldom/xmldom';

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

/** An SLO message as received at /saml/<id>/slo. */
export interface SloInput {
  binding: 'redirect' | 'post';
  params: Record<string, string>;
  /** The raw query string (Redirect binding signatures cover the encoded bytes). */
  rawQuery: string;
}

export interface SloCheckOptions {
  idpEntityId: string;
  certs: readonly TrustedCert[];
  sloUrl: string;
  now: number;
  clockSkewMs: number;
  signature: SignatureOptions;
  /** How old a LogoutRequest's IssueInstant may be. */
  maxAgeMs: number;
}

export interface VerifiedLogoutRequest {
  id: string;
  nameId: string;
  nameIdFormat?: string;
  sessionIndexes: string[];
  notOnOrAfter?: number;
}

export interface VerifiedLogoutResponse {
  inResponseTo: string;
  success: boolean;
  status: string;
}

function decode(input: SloInput, param: 'SAMLRequest' | 'SAMLResponse'): string {
  const value = input.params[param];
  if (value === undefined) throw new ConnectorError('saml_invalid_message', `no ${param}`);
  return input.binding === 'redirect' ? decodeRedirectBinding(value) : decodePostBinding(value);
}

/**
 * Parses and authenticates an SLO message. POST: the enveloped signature must be the root's direct child and
 * reference the root's ID; Redirect: the query-string signature. No Assertion may appear anywhere inside.
 */
function authenticate(input: SloInput, param: 'SAMLRequest' | 'SAMLResponse', localName: string, options: SloCheckOptions): Element {
  const xml = decode(input, param);
  const root = parseUntrustedXml(xml).documentElement!;
  if (!is(root, NS.protocol, localName)) throw new ConnectorError('saml_invalid_message', `expected a ${localName}, got <${root.localName}>`);
  if (attr(root, 'Version') !== '2.0') throw new ConnectorError('saml_invalid_message', `<${localName}> is not SAML 2.0`);
  assertUniqueIds(root);
  for (const el of descendants(root)) {
    if (el.localName === 'Assertion' || el.localName === 'EncryptedAssertion') {
      throw new ConnectorError('saml_signature_wrapping', `a ${localName} must not contain an assertion`);
    }
    if (el.localName === 'Signature' && el.parentNode !== root) throw new ConnectorError('saml_signature_wrapping', 'a signature appears below the message root');
  }
  let view: Element = root;
  if (input.binding === 'post') {
    const verified = verifyEnvelopedSignature(root, options.certs, options.signature);
    if (!verified) throw new ConnectorError('saml_signature_missing', `the ${localName} is not signed`);
    view = verified;
  } else {
    if (childElements(root, NS.dsig, 'Signature').length > 0) throw new ConnectorError('saml_invalid_message', 'Redirect binding messages carry no XML signature');
    if (!verifyRedirectQuery(input.rawQuery, param, options.certs, options.signature)) {
      throw new ConnectorError(input.params.Signature ? 'saml_signature_invalid' : 'saml_signature_missing', `the ${localName} query signature is missing or invalid`);
    }
  }
  const issuer = optionalChild(view, NS.assertion, 'Issuer');
  if (!issuer || textOf(issuer) !== options.idpEntityId) throw new ConnectorError('saml_issuer_mismatch', `the ${localName} is not from ${options.idpEntityId}`);
  const destination = attr(view, 'Destination');
  if (destination !== undefined ? destination !== options.sloUrl : input.binding === 'post') {
    throw new ConnectorError('saml_destination_mismatch', `Destination "${(destination ?? '(none)').slice(0, 200)}" is not ${options.sloUrl}`);
  }
  const issued = parseInstant(attr(view, 'IssueInstant'), 'IssueInstant');
  if (issued === undefined) throw new ConnectorError('saml_invalid_message', `the ${localName} has no IssueInstant`);
  if (issued > options.now + options.clockSkewMs) throw new ConnectorError('saml_not_yet_valid', `the ${localName} is issued in the future`);
  if (issued < options.now - options.maxAgeMs - options.clockSkewMs) throw new ConnectorError('saml_expired', `the ${localName} is too old`);
  if (!attr(view, 'ID')) throw new ConnectorError('saml_invalid_message', `the ${localName} has no ID`);
  return view;
}

export function verifyLogoutRequest(input: SloInput, options: SloCheckOptions): VerifiedLogoutRequest {
  const view = authenticate(input, 'SAMLRequest', 'LogoutRequest', options);
  const notOnOrAfter = parseInstant(attr(view, 'NotOnOrAfter'), 'NotOnOrAfter');
  if (notOnOrAfter !== undefined && options.now - options.clockSkewMs >= notOnOrAfter) throw new ConnectorError('saml_expired', 'the LogoutRequest has expired');
  const nameIdEl = optionalChild(view, NS.assertion, 'NameID', 'saml_missing_nameid');
  if (!nameIdEl) throw new ConnectorError('saml_missing_nameid', 'the LogoutRequest has no (unencrypted) NameID');
  const nameId = textOf(nameIdEl);
  if (!nameId) throw new ConnectorError('saml_missing_nameid', 'the LogoutRequest NameID is empty');
  const result: VerifiedLogoutRequest = {
    id: attr(view, 'ID')!,
    nameId,
    sessionIndexes: childElements(view, NS.protocol, 'SessionIndex').map(textOf).filter((s) => s.length > 0),
  };
  const format = attr(nameIdEl, 'Format');
  if (format) result.nameIdFormat = format;
  if (notOnOrAfter !== undefined) result.notOnOrAfter = notOnOrAfter;
  return result;
}

export function verifyLogoutResponse(input: SloInput, options: SloCheckOptions): VerifiedLogoutResponse {
  const view = authenticate(input, 'SAMLResponse', 'LogoutResponse', options);
  const inResponseTo = attr(view, 'InResponseTo');
  if (!inResponseTo) throw new ConnectorError('saml_unsolicited', 'the LogoutResponse answers no request');
  const status = optionalChild(view, NS.protocol, 'Status');
  const code = status ? attr(optionalChild(status, NS.protocol, 'StatusCode') ?? status, 'Value') ?? '' : '';
  return { inResponseTo, success: code === SUCCESS, status: code };
}
