// SAML connector behaviour against a real samlify IdP: bindings, signed/encrypted assertions, mapping, metadata, SLO, keys.
import { createVerify, X509Certificate } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { SignedXml } from 'xml-crypto';
import { DOMParser } from '@xmldom/xmldom';
import { ConnectorError } from '../../src/connectors/connector.js';
import { connectorFactory } from '../../src/connectors/registry.js';
import { parseIdpMetadata } from '../../src/connectors/saml-metadata.js';
import { SchemaValidatorPool } from '../../src/connectors/saml-schema.js';
import { EMAIL_FORMAT, IDP_CERT, IDP_NEXT_CERT, IDP_NEXT_KEY, SP_CERT, TestIdp, b64, deflateB64 } from '../helpers/upstream-saml.js';
import { ISSUER, authnRequestFromRedirect, callbackInput, loginRequest, makeConnector, requestIdOf, solicitedResponse, type Connector } from './saml-setup.js';

let open: Connector[] = [];
afterEach(async () => {
  await Promise.all(open.map((c) => c.close?.()));
  open = [];
});
async function env(overrides: Record<string, unknown> = {}, options: Parameters<typeof makeConnector>[1] = {}) {
  const e = await makeConnector(overrides, options);
  open.push(e.connector);
  return e;
}

describe('registration and configuration', () => {
  it('is registered as type "saml" and names bad fields', () => {
    const factory = connectorFactory('saml');
    expect(factory).toBeDefined();
    const result = factory!.configSchema.safeParse({ idp: {}, signaturePolicy: 'sometimes' });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toContain('signaturePolicy');
    expect(paths.some((p) => p.startsWith('idp'))).toBe(true);
  });

  it('refuses generated SP keys in production and generates a warned development key otherwise', async () => {
    await expect(env({ sp: {} }, { production: true })).rejects.toThrow(/required in production/);
    const e = await env({ sp: {} });
    const metadata = e.connector.spMetadata();
    const cert = /use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>([^<]+)</.exec(metadata)![1]!;
    expect(new X509Certificate(Buffer.from(cert, 'base64')).subject).toContain('vestibule-sp-acme-saml');
  });
});

describe('SP metadata', () => {
  it('publishes entityID, the POST ACS, SLO endpoints and both certificates', async () => {
    const e = await env();
    const xml = e.connector.spMetadata();
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const root = doc.documentElement!;
    expect(root.getAttribute('entityID')).toBe(`${ISSUER}/saml/acme-saml/metadata`);
    const acs = root.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:metadata', 'AssertionConsumerService')[0]!;
    expect(acs.getAttribute('Location')).toBe(`${ISSUER}/callback/acme-saml`);
    expect(acs.getAttribute('Binding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    const slo = Array.from(root.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:metadata', 'SingleLogoutService'));
    expect(slo.map((s) => s.getAttribute('Location'))).toEqual([`${ISSUER}/saml/acme-saml/slo`, `${ISSUER}/saml/acme-saml/slo`]);
    const body = SP_CERT.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '');
    expect(xml).toContain(`<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body}`);
    expect(xml).toContain(`<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body}`);
  });
});

describe('SP-initiated login', () => {
  it('sends an AuthnRequest over HTTP-Redirect with RelayState = state and the POST ACS', async () => {
    const e = await env();
    const start = await e.connector.startLogin(loginRequest());
    const url = new URL(start.redirectUrl!);
    expect(`${url.origin}${url.pathname}`).toBe(e.idp.ssoUrl);
    expect(url.searchParams.get('RelayState')).toBe('state-abc');
    expect(url.searchParams.get('Signature')).toBeNull();
    const xml = authnRequestFromRedirect(start.redirectUrl!);
    expect(xml).toContain(`AssertionConsumerServiceURL="${e.acsUrl}"`);
    expect(xml).toContain('ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"');
    expect(xml).toContain(`<saml:Issuer>${e.spEntityId}</saml:Issuer>`);
    expect(start.transactionData.requestId).toBe(requestIdOf(xml));
  });

  it('signs the Redirect-binding query with RSA-SHA256 when configured', async () => {
    const e = await env({ signAuthnRequests: true });
    const start = await e.connector.startLogin(loginRequest());
    const query = new URL(start.redirectUrl!).search.slice(1);
    const [signed, signature] = query.split('&Signature=') as [string, string];
    expect(signed).toMatch(/^SAMLRequest=[^&]+&RelayState=state-abc&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256$/);
    expect(createVerify('RSA-SHA256').update(signed).verify(SP_CERT, Buffer.from(decodeURIComponent(signature), 'base64'))).toBe(true);
  });

  it('follows the IdP metadata WantAuthnRequestsSigned and signs POST-binding requests as enveloped XML', async () => {
    const e = await env({ authnRequestBinding: 'post' }, { idp: { wantAuthnRequestsSigned: true } });
    const start = await e.connector.startLogin(loginRequest({ forceLogin: true }));
    expect(start.postForm!.action).toBe(e.idp.ssoUrl);
    expect(start.postForm!.fields.RelayState).toBe('state-abc');
    const xml = Buffer.from(start.postForm!.fields.SAMLRequest!, 'base64').toString('utf8');
    expect(xml).toContain('ForceAuthn="true"');
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const sig = doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0]!;
    expect(sig.parentNode).toBe(doc.documentElement);
    const verifier = new SignedXml({ publicCert: SP_CERT });
    verifier.loadSignature(sig as never);
    expect(verifier.checkSignature(xml)).toBe(true);
    expect(xml).toContain('SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"');
  });

  it('asks IsPassive="true" for a passive re-authentication, never together with ForceAuthn (which wins)', async () => {
    const e = await env();
    const passive = authnRequestFromRedirect((await e.connector.startLogin(loginRequest({ passive: true }))).redirectUrl!);
    expect(passive).toContain('IsPassive="true"');
    expect(passive).not.toContain('ForceAuthn');
    const forced = authnRequestFromRedirect((await e.connector.startLogin(loginRequest({ passive: true, forceLogin: true }))).redirectUrl!);
    expect(forced).toContain('ForceAuthn="true"');
    expect(forced).not.toContain('IsPassive');
    expect(authnRequestFromRedirect((await e.connector.startLogin(loginRequest())).redirectUrl!)).not.toContain('IsPassive');
  });

  it('re-authenticates passively after a 300 s grace by default; reauthentication.mode and graceSeconds are per provider', async () => {
    expect((await env()).connector).toMatchObject({ reauthentication: { mode: 'passive', graceMs: 300_000 } });
    expect((await env({ reauthentication: { mode: 'force', graceSeconds: 60 } })).connector).toMatchObject({ reauthentication: { mode: 'force', graceMs: 60_000 } });
    await expect(env({ reauthentication: { mode: 'sometimes' } })).rejects.toThrow();
  });

  it('sends RequestedAuthnContext for mapped acr_values and maps the asserted class back to acr', async () => {
    const mfaClass = 'http://schemas.microsoft.com/claims/multipleauthn';
    const e = await env({ acrValues: { 'urn:acme:mfa': [mfaClass] }, authnContextComparison: 'minimum' });
    const start = await e.connector.startLogin(loginRequest({ acrValues: ['urn:acme:mfa', 'urn:unmapped'] }));
    const xml = authnRequestFromRedirect(start.redirectUrl!);
    expect(xml).toContain(`<samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>${mfaClass}</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`);
    const response = await e.idp.responseXml({ now: e.clock.get(), inResponseTo: start.transactionData.requestId as string, authnContextClassRef: mfaClass }, e.acsUrl, e.spEntityId);
    const identity = await e.connector.handleCallback(callbackInput(response), start.transactionData);
    expect(identity.acr).toBe('urn:acme:mfa');
    expect(identity.amr).toEqual(['mfa']);
    const plain = await env();
    expect(authnRequestFromRedirect((await plain.connector.startLogin(loginRequest({ acrValues: ['urn:acme:mfa'] }))).redirectUrl!)).not.toContain('RequestedAuthnContext');
  });
});

describe('Responses', () => {
  it.each([
    ['assertion', 'assertion', false],
    ['response', 'response', false],
    ['both', 'both', false],
    ['either', 'response', false],
    ['assertion', 'assertion', { data: 'aes256-gcm' }],
    ['assertion', 'assertion', { data: 'aes128-gcm' }],
    ['assertion', 'both', { data: 'aes256-cbc' }],
    ['response', 'response', { data: 'aes128-cbc' }],
  ] as const)('policy %s accepts a response signed at %s level (encryption %j)', async (policy, sign, encrypt) => {
    const e = await env({ signaturePolicy: policy });
    const { xml, transactionData } = await solicitedResponse(e, { sign, encrypt, nameId: 'alice-42', sessionIndex: '_idx-9' });
    if (encrypt) expect(xml).toContain('EncryptedAssertion');
    const identity = await e.connector.handleCallback(callbackInput(xml), transactionData);
    expect(identity).toMatchObject({ connectorId: 'acme-saml', subject: 'alice-42', amr: ['pwd'], acr: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport' });
    expect(identity.connectorData).toMatchObject({ nameId: 'alice-42', sessionIndex: '_idx-9', idpEntityId: e.idp.entityId });
    expect(identity.authTime).toBe(Math.floor((e.clock.get() - 1000) / 1000));
  });

  it('maps attributes by URI or FriendlyName, email NameIDs, groups and the declarative claim mapping', async () => {
    const e = await env({ claims: { allowedGroups: ['eng', 'ops'], groupPrefix: 'acme:', static: { emailVerified: true } } });
    const { xml, transactionData } = await solicitedResponse(e, {
      nameId: 'bob@acme.test',
      nameIdFormat: EMAIL_FORMAT,
      attributes: {
        'urn:oid:2.16.840.1.113730.3.1.241': 'Bob Builder',
        'urn:oid:1.3.6.1.4.1.5923.1.5.1.1': ['eng', 'ops', 'secret'],
        'urn:oid:2.5.4.42': 'Bob',
      },
      friendlyNames: { 'urn:oid:2.5.4.42': 'givenName' },
    });
    const identity = await e.connector.handleCallback(callbackInput(xml), transactionData);
    expect(identity).toMatchObject({ subject: 'bob@acme.test', email: 'bob@acme.test', emailVerified: true, name: 'Bob Builder', groups: ['acme:eng', 'acme:ops'] });
    expect(identity.rawClaims.givenName).toBe('Bob');
    expect(identity.rawClaims['urn:oid:2.5.4.42']).toBe('Bob');
  });

  it('refuses a transient NameID unless a subject attribute is configured', async () => {
    const transient = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
    const e = await env();
    const first = await solicitedResponse(e, { nameIdFormat: transient, nameId: '_tmp1' });
    await expect(e.connector.handleCallback(callbackInput(first.xml), first.transactionData)).rejects.toMatchObject({ code: 'saml_transient_nameid' });
    const f = await env({ attributes: { subject: ['employeeNumber'] } });
    const second = await solicitedResponse(f, { nameIdFormat: transient, nameId: '_tmp2', attributes: { employeeNumber: 'E-77' } });
    expect((await f.connector.handleCallback(callbackInput(second.xml), second.transactionData)).subject).toBe('E-77');
  });

  it('trusts every signing certificate of a rollover (metadata with two certs, or extraSigningCerts)', async () => {
    const e = await env({}, { metadataXml: TestIdp.metadata({}, [IDP_CERT, IDP_NEXT_CERT]) });
    const { xml, transactionData } = await solicitedResponse(e, { signingKey: { key: IDP_NEXT_KEY, cert: IDP_NEXT_CERT } });
    expect((await e.connector.handleCallback(callbackInput(xml), transactionData)).subject).toBe('user-1234');
    const f = await env({ idp: { metadataXml: TestIdp.metadata(), extraSigningCerts: [IDP_NEXT_CERT] } });
    const next = await solicitedResponse(f, { signingKey: { key: IDP_NEXT_KEY, cert: IDP_NEXT_CERT } });
    expect((await f.connector.handleCallback(callbackInput(next.xml), next.transactionData)).subject).toBe('user-1234');
  });

  it('validates the schema off the event loop and refuses schema-invalid messages', async () => {
    const e = await env({ schemaValidation: 'worker' });
    const good = await solicitedResponse(e);
    expect((await e.connector.handleCallback(callbackInput(good.xml), good.transactionData)).subject).toBe('user-1234');
    const bad = await solicitedResponse(e, { sign: 'response' });
    const invalid = bad.xml.replace('<samlp:Status>', '<samlp:Bogus/><samlp:Status>');
    await expect(e.connector.handleCallback(callbackInput(invalid), bad.transactionData)).rejects.toMatchObject({ code: 'saml_schema_invalid' });
  }, 60_000);
});

describe('IdP-initiated login', () => {
  it('is never a login: a verified unsolicited Response restarts at the client initiate_login_uri, once', async () => {
    const e = await env({ idpInitiated: { enabled: true, initiateLoginUri: 'https://app.example.test/login', targetLinkUri: 'https://app.example.test/home' } });
    const xml = await e.idp.responseXml({ now: e.clock.get() }, e.acsUrl, e.spEntityId);
    const { redirectUrl } = await e.connector.handleUnsolicited(callbackInput(xml));
    const url = new URL(redirectUrl);
    expect(url.origin + url.pathname).toBe('https://app.example.test/login');
    expect(url.searchParams.get('iss')).toBe(ISSUER);
    expect(url.searchParams.get('target_link_uri')).toBe('https://app.example.test/home');
    await expect(e.connector.handleUnsolicited(callbackInput(xml))).rejects.toMatchObject({ code: 'saml_replay' });
    const forged = await e.idp.responseXml({ now: e.clock.get(), audience: 'https://elsewhere' }, e.acsUrl, e.spEntityId);
    await expect(e.connector.handleUnsolicited(callbackInput(forged))).rejects.toBeInstanceOf(ConnectorError);
  });

  it('requires initiateLoginUri when enabled', () => {
    const result = connectorFactory('saml')!.configSchema.safeParse({ idp: { metadataXml: TestIdp.metadata() }, idpInitiated: { enabled: true } });
    expect(result.success).toBe(false);
  });
});

describe('Single Logout', () => {
  const slo = `${ISSUER}/saml/acme-saml/slo`;

  it('IdP-initiated (POST): verifies the LogoutRequest, ends sessions by NameID + SessionIndex, answers with a signed LogoutResponse', async () => {
    const e = await env();
    const ended: unknown[] = [];
    const xml = e.idp.logoutRequestXml({ nameId: 'alice-42', sessionIndex: '_idx-9', destination: slo, now: e.clock.get() });
    const outcome = await e.connector.handleSlo({ binding: 'post', params: { SAMLRequest: b64(xml), RelayState: 'rs' }, rawQuery: '' }, async (input) => (ended.push(input), 2));
    expect(ended).toEqual([{ connectorId: 'acme-saml', nameId: 'alice-42', sessionIndex: '_idx-9' }]);
    expect(outcome.kind).toBe('request');
    if (outcome.kind !== 'request' || !('postForm' in outcome.message)) throw new Error('expected a POST LogoutResponse');
    expect(outcome.endedSessions).toBe(2);
    expect(outcome.message.postForm.action).toBe(e.idp.sloUrl);
    expect(outcome.message.postForm.fields.RelayState).toBe('rs');
    const response = Buffer.from(outcome.message.postForm.fields.SAMLResponse!, 'base64').toString('utf8');
    expect(response).toContain(`InResponseTo="${requestIdOf(xml)}"`);
    expect(response).toContain('urn:oasis:names:tc:SAML:2.0:status:Success');
    const doc = new DOMParser().parseFromString(response, 'text/xml');
    const verifier = new SignedXml({ publicCert: SP_CERT });
    verifier.loadSignature(doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0] as never);
    expect(verifier.checkSignature(response)).toBe(true);
    await expect(e.connector.handleSlo({ binding: 'post', params: { SAMLRequest: b64(xml) }, rawQuery: '' }, async () => 1)).rejects.toMatchObject({ code: 'saml_replay' });
  });

  it('IdP-initiated (Redirect): requires the query-string signature', async () => {
    const e = await env();
    const xml = e.idp.logoutRequestXml({ nameId: 'alice-42', destination: slo, now: e.clock.get(), sign: false });
    const encoded = deflateB64(xml);
    const unsigned = `SAMLRequest=${encodeURIComponent(encoded)}`;
    await expect(e.connector.handleSlo({ binding: 'redirect', params: { SAMLRequest: encoded }, rawQuery: unsigned }, async () => 1)).rejects.toMatchObject({ code: 'saml_signature_missing' });
    const { signRedirectQuery } = await import('../../src/connectors/saml-signature.js');
    const { IDP_KEY } = await import('../helpers/upstream-saml.js');
    const signed = signRedirectQuery('SAMLRequest', encoded, undefined, IDP_KEY);
    const params = Object.fromEntries(new URLSearchParams(signed));
    const outcome = await e.connector.handleSlo({ binding: 'redirect', params, rawQuery: signed }, async () => 1);
    if (outcome.kind !== 'request' || !('redirectUrl' in outcome.message)) throw new Error('expected a Redirect LogoutResponse');
    const answer = new URL(outcome.message.redirectUrl);
    expect(answer.searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(inflateRawSync(Buffer.from(answer.searchParams.get('SAMLResponse')!, 'base64')).toString()).toContain('status:Success');
  });

  it('SP-initiated: sends a signed LogoutRequest and finishes on the matching LogoutResponse', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e, { nameId: 'alice-42', sessionIndex: '_idx-9' });
    const identity = await e.connector.handleCallback(callbackInput(xml), transactionData);
    const message = await e.connector.logout(identity, 'https://app.example.test/bye', 'logout-state');
    const url = new URL((message as { redirectUrl: string }).redirectUrl);
    expect(url.searchParams.get('Signature')).toBeTruthy();
    const request = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString();
    expect(request).toContain('>alice-42</saml:NameID>');
    expect(request).toContain('<samlp:SessionIndex>_idx-9</samlp:SessionIndex>');
    const response =
      `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr1" Version="2.0" IssueInstant="${new Date(e.clock.get()).toISOString()}" Destination="${slo}" InResponseTo="${requestIdOf(request)}">` +
      `<saml:Issuer>${e.idp.entityId}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`;
    const { signRedirectQuery } = await import('../../src/connectors/saml-signature.js');
    const { IDP_KEY } = await import('../helpers/upstream-saml.js');
    const query = signRedirectQuery('SAMLResponse', deflateB64(response), 'logout-state', IDP_KEY);
    const outcome = await e.connector.handleSlo({ binding: 'redirect', params: Object.fromEntries(new URLSearchParams(query)), rawQuery: query }, async () => 0);
    expect(outcome).toEqual({ kind: 'response', returnTo: 'https://app.example.test/bye', success: true });
    await expect(e.connector.handleSlo({ binding: 'redirect', params: Object.fromEntries(new URLSearchParams(query)), rawQuery: query }, async () => 0)).rejects.toMatchObject({
      code: 'saml_in_response_to_mismatch',
    });
  });
});

describe('metadata parsing', () => {
  it('reads entityID, endpoints, every signing certificate and WantAuthnRequestsSigned', () => {
    const parsed = parseIdpMetadata(TestIdp.metadata({ wantAuthnRequestsSigned: true }, [IDP_CERT, IDP_NEXT_CERT]));
    expect(parsed.entityId).toBe('https://idp.example.test/metadata');
    expect(parsed.signingCerts).toHaveLength(2);
    expect(parsed.wantAuthnRequestsSigned).toBe(true);
    expect(parsed.sso.map((s) => s.binding)).toEqual(['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST']);
    expect(() => parseIdpMetadata(`<!DOCTYPE x>${TestIdp.metadata()}`)).toThrow(ConnectorError);
  });
});

describe('schema pool', () => {
  it('answers valid and invalid messages from worker threads', async () => {
    const pool = new SchemaValidatorPool(1);
    try {
      const e = await env();
      const { xml } = await solicitedResponse(e);
      await expect(pool.validate(xml)).resolves.toBeUndefined();
      await expect(pool.validate('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>')).rejects.toMatchObject({ code: 'saml_schema_invalid' });
      expect(pool.stats().validated).toBe(2);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
