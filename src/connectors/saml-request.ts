// Builds SAML protocol requests (AuthnRequest, LogoutRequest) and encodes them for the HTTP-Redirect or HTTP-POST binding.
import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { signMessage, signRedirectQuery } from './saml-signature.js';
import { BINDING } from './saml-metadata.js';
import { NS, escapeXml } from './saml-xml.js';

/** A fresh xs:ID (NCName): "_" + 160 random bits. */
export function newMessageId(): string {
  return `_${randomBytes(20).toString('hex')}`;
}

/** xs:dateTime in UTC without sub-second noise. */
export function instant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface AuthnRequestInput {
  id: string;
  now: number;
  destination: string;
  spEntityId: string;
  acsUrl: string;
  nameIdFormat: string;
  forceAuthn: boolean;
  /** IsPassive="true": the IdP must not take visible control of the browser; it answers NoPassive when it cannot sign the user in silently. */
  isPassive?: boolean;
  requestedAuthnContext?: { comparison: 'exact' | 'minimum' | 'maximum' | 'better'; classRefs: string[] };
}

export function buildAuthnRequest(input: AuthnRequestInput): string {
  const context = input.requestedAuthnContext
    ? `<samlp:RequestedAuthnContext Comparison="${input.requestedAuthnContext.comparison}">${input.requestedAuthnContext.classRefs
        .map((ref) => `<saml:AuthnContextClassRef>${escapeXml(ref)}</saml:AuthnContextClassRef>`)
        .join('')}</samlp:RequestedAuthnContext>`
    : '';
  return (
    `<samlp:AuthnRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${input.id}" Version="2.0" IssueInstant="${instant(input.now)}"` +
    ` Destination="${escapeXml(input.destination)}" AssertionConsumerServiceURL="${escapeXml(input.acsUrl)}" ProtocolBinding="${BINDING.post}"` +
    (input.forceAuthn ? ' ForceAuthn="true"' : '') +
    (input.isPassive ? ' IsPassive="true"' : '') +
    `><saml:Issuer>${escapeXml(input.spEntityId)}</saml:Issuer>` +
    `<samlp:NameIDPolicy Format="${escapeXml(input.nameIdFormat)}" AllowCreate="true"/>` +
    context +
    `</samlp:AuthnRequest>`
  );
}

export interface LogoutRequestInput {
  id: string;
  now: number;
  destination: string;
  spEntityId: string;
  nameId: string;
  nameIdFormat?: string;
  nameQualifier?: string;
  spNameQualifier?: string;
  sessionIndex?: string;
}

export function buildLogoutRequest(input: LogoutRequestInput): string {
  const qualifiers =
    (input.nameIdFormat ? ` Format="${escapeXml(input.nameIdFormat)}"` : '') +
    (input.nameQualifier ? ` NameQualifier="${escapeXml(input.nameQualifier)}"` : '') +
    (input.spNameQualifier ? ` SPNameQualifier="${escapeXml(input.spNameQualifier)}"` : '');
  return (
    `<samlp:LogoutRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${input.id}" Version="2.0" IssueInstant="${instant(input.now)}" Destination="${escapeXml(input.destination)}">` +
    `<saml:Issuer>${escapeXml(input.spEntityId)}</saml:Issuer>` +
    `<saml:NameID${qualifiers}>${escapeXml(input.nameId)}</saml:NameID>` +
    (input.sessionIndex ? `<samlp:SessionIndex>${escapeXml(input.sessionIndex)}</samlp:SessionIndex>` : '') +
    `</samlp:LogoutRequest>`
  );
}

export interface LogoutResponseInput {
  id: string;
  now: number;
  destination: string;
  spEntityId: string;
  inResponseTo: string;
  statusCode: string;
}

export function buildLogoutResponse(input: LogoutResponseInput): string {
  return (
    `<samlp:LogoutResponse xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${input.id}" Version="2.0" IssueInstant="${instant(input.now)}"` +
    ` Destination="${escapeXml(input.destination)}" InResponseTo="${escapeXml(input.inResponseTo)}">` +
    `<saml:Issuer>${escapeXml(input.spEntityId)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="${escapeXml(input.statusCode)}"/></samlp:Status>` +
    `</samlp:LogoutResponse>`
  );
}

export interface SigningKey {
  privateKeyPem: string;
  certPem: string;
}

export type OutboundMessage = { redirectUrl: string } | { postForm: { action: string; fields: Record<string, string> } };

/**
 * Encodes a protocol message for its binding. Redirect: DEFLATE + base64 in the query, signed over the query string.
 * POST: base64 in a form field, signed as an enveloped XML signature.
 */
export function encodeMessage(
  xml: string,
  kind: 'SAMLRequest' | 'SAMLResponse',
  binding: 'redirect' | 'post',
  location: string,
  relayState: string | undefined,
  key: SigningKey | undefined,
): OutboundMessage {
  if (binding === 'redirect') {
    const encoded = deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64');
    const query = key
      ? signRedirectQuery(kind, encoded, relayState, key.privateKeyPem)
      : `${kind}=${encodeURIComponent(encoded)}${relayState !== undefined ? `&RelayState=${encodeURIComponent(relayState)}` : ''}`;
    return { redirectUrl: `${location}${location.includes('?') ? '&' : '?'}${query}` };
  }
  const body = key ? signMessage(xml, key.privateKeyPem, key.certPem) : xml;
  const fields: Record<string, string> = { [kind]: Buffer.from(body, 'utf8').toString('base64') };
  if (relayState !== undefined) fields.RelayState = relayState;
  return { postForm: { action: location, fields } };
}
