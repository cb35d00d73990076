// A real samlify IdentityProvider for tests: IdP metadata, signed/encrypted login responses and logout requests with full control.
import { readFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as samlify from 'samlify';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'saml');
export const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

export const IDP_KEY = fixture('idp-key.pem');
export const IDP_CERT = fixture('idp-cert.pem');
export const IDP_NEXT_KEY = fixture('idp-next-key.pem');
export const IDP_NEXT_CERT = fixture('idp-next-cert.pem');
export const ATTACKER_KEY = fixture('attacker-key.pem');
export const ATTACKER_CERT = fixture('attacker-cert.pem');
export const SP_KEY = fixture('sp-key.pem');
export const SP_CERT = fixture('sp-cert.pem');

const P = 'urn:oasis:names:tc:SAML:2.0:protocol';
const A = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const STATUS = (code: string): string => `urn:oasis:names:tc:SAML:2.0:status:${code}`;
export const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
export const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

export type SignMode = 'assertion' | 'response' | 'both' | 'none';
export type Encryption = false | { data: 'aes128-gcm' | 'aes256-gcm' | 'aes128-cbc' | 'aes256-cbc' };

const DATA_ALG = {
  'aes128-gcm': 'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  'aes256-gcm': 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  'aes128-cbc': 'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
  'aes256-cbc': 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
} as const;

export interface ResponseOptions {
  inResponseTo?: string;
  nameId?: string;
  nameIdFormat?: string;
  attributes?: Record<string, string | string[]>;
  /** FriendlyName per attribute Name. */
  friendlyNames?: Record<string, string>;
  destination?: string | null;
  audience?: string;
  recipient?: string;
  issuer?: string;
  now?: number;
  notBefore?: number;
  notOnOrAfter?: number;
  scdNotOnOrAfter?: number;
  status?: string;
  subStatus?: string;
  authnContextClassRef?: string;
  sessionIndex?: string;
  /** The AuthnStatement's SessionNotOnOrAfter (absent: none). */
  sessionNotOnOrAfter?: number;
  sign?: SignMode;
  encrypt?: Encryption;
  /** Sign with this key/cert instead of the IdP's. */
  signingKey?: { key: string; cert: string };
  assertionId?: string;
  responseId?: string;
  /** Sign with RSA-SHA1 (to check that it is refused). */
  sha1?: boolean;
}

const esc = (v: string): string => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const iso = (ms: number): string => new Date(ms).toISOString();
let counter = 0;
const nextId = (): string => `_test${Date.now().toString(36)}${(++counter).toString(36)}${Math.random().toString(36).slice(2, 10)}`;

export interface TestIdpOptions {
  entityId?: string;
  ssoUrl?: string;
  sloUrl?: string;
  wantAuthnRequestsSigned?: boolean;
  /** Extra signing certs to publish (rollover). */
  extraCerts?: string[];
}

/** Wraps samlify's IdentityProvider so tests can mint any response the connector must accept or refuse. */
export class TestIdp {
  readonly entityId: string;
  readonly ssoUrl: string;
  readonly sloUrl: string;
  private readonly entities = new Map<string, ReturnType<typeof samlify.IdentityProvider>>();
  private readonly sps = new Map<string, ReturnType<typeof samlify.ServiceProvider>>();

  constructor(
    private readonly spMetadataXml: string,
    readonly options: TestIdpOptions = {},
  ) {
    this.entityId = options.entityId ?? 'https://idp.example.test/metadata';
    this.ssoUrl = options.ssoUrl ?? 'https://idp.example.test/sso';
    this.sloUrl = options.sloUrl ?? 'https://idp.example.test/slo';
  }

  /** IdP metadata XML as a real IdP would publish it. */
  static metadata(options: TestIdpOptions = {}, certs: string[] = [IDP_CERT]): string {
    const entityId = options.entityId ?? 'https://idp.example.test/metadata';
    const body = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '');
    const keys = [...certs, ...(options.extraCerts ?? [])]
      .map((c) => `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body(c)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
      .join('');
    const sso = options.ssoUrl ?? 'https://idp.example.test/sso';
    const slo = options.sloUrl ?? 'https://idp.example.test/slo';
    return (
      `<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${esc(entityId)}">` +
      `<md:IDPSSODescriptor WantAuthnRequestsSigned="${options.wantAuthnRequestsSigned ?? false}" protocolSupportEnumeration="${P}">${keys}` +
      `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${esc(slo)}"/>` +
      `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${esc(slo)}"/>` +
      `<md:NameIDFormat>${PERSISTENT}</md:NameIDFormat>` +
      `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${esc(sso)}"/>` +
      `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${esc(sso)}"/>` +
      `</md:IDPSSODescriptor></md:EntityDescriptor>`
    );
  }

  get metadataXml(): string {
    return TestIdp.metadata(this.options);
  }

  private idp(encrypt: Encryption, signer: { key: string; cert: string }, sha1 = false) {
    const cacheKey = `${encrypt ? encrypt.data : 'plain'}|${signer.cert.slice(30, 60)}|${sha1}`;
    let entity = this.entities.get(cacheKey);
    if (!entity) {
      entity = samlify.IdentityProvider({
        entityID: this.entityId,
        privateKey: signer.key,
        signingCert: signer.cert,
        isAssertionEncrypted: !!encrypt,
        ...(sha1 ? { requestSignatureAlgorithm: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' } : {}),
        ...(encrypt ? { dataEncryptionAlgorithm: DATA_ALG[encrypt.data], keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p' } : {}),
        singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: this.ssoUrl }],
        singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: this.sloUrl }],
        nameIDFormat: [PERSISTENT],
      } as Parameters<typeof samlify.IdentityProvider>[0]);
      this.entities.set(cacheKey, entity);
    }
    return entity;
  }

  private sp(sign: Exclude<SignMode, 'none'>) {
    let sp = this.sps.get(sign);
    if (!sp) {
      const metadata = this.spMetadataXml.replace(/WantAssertionsSigned="(true|false)"/, `WantAssertionsSigned="${sign !== 'response'}"`);
      sp = samlify.ServiceProvider({ metadata, wantMessageSigned: sign === 'both' } as Parameters<typeof samlify.ServiceProvider>[0]);
      this.sps.set(sign, sp);
    }
    return sp;
  }

  /** The unsigned Response XML for these options (what the IdP would sign). */
  responseTemplate(o: ResponseOptions, acsUrl: string, spEntityId: string): string {
    const now = o.now ?? Date.now();
    const issuer = esc(o.issuer ?? this.entityId);
    const inResponseTo = o.inResponseTo !== undefined ? ` InResponseTo="${esc(o.inResponseTo)}"` : '';
    const destination = o.destination === null ? '' : ` Destination="${esc(o.destination ?? acsUrl)}"`;
    const status = o.status ?? STATUS('Success');
    const statusXml = o.subStatus
      ? `<samlp:Status><samlp:StatusCode Value="${status}"><samlp:StatusCode Value="${o.subStatus}"/></samlp:StatusCode><samlp:StatusMessage>denied</samlp:StatusMessage></samlp:Status>`
      : `<samlp:Status><samlp:StatusCode Value="${status}"/></samlp:Status>`;
    const attributes = Object.entries(o.attributes ?? {})
      .map(([name, value]) => {
        const friendly = o.friendlyNames?.[name] ? ` FriendlyName="${esc(o.friendlyNames[name]!)}"` : '';
        const values = (Array.isArray(value) ? value : [value]).map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('');
        return `<saml:Attribute Name="${esc(name)}"${friendly} NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">${values}</saml:Attribute>`;
      })
      .join('');
    const assertion =
      o.status && o.status !== STATUS('Success')
        ? ''
        : `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:saml="${A}" ID="${o.assertionId ?? nextId()}" Version="2.0" IssueInstant="${iso(now)}">` +
          `<saml:Issuer>${issuer}</saml:Issuer>` +
          `<saml:Subject><saml:NameID Format="${esc(o.nameIdFormat ?? PERSISTENT)}">${esc(o.nameId ?? 'user-1234')}</saml:NameID>` +
          `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(o.scdNotOnOrAfter ?? now + 300_000)}" Recipient="${esc(o.recipient ?? acsUrl)}"${inResponseTo}/></saml:SubjectConfirmation></saml:Subject>` +
          `<saml:Conditions NotBefore="${iso(o.notBefore ?? now - 5_000)}" NotOnOrAfter="${iso(o.notOnOrAfter ?? now + 300_000)}"><saml:AudienceRestriction><saml:Audience>${esc(o.audience ?? spEntityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
          `<saml:AuthnStatement AuthnInstant="${iso(now - 1_000)}" SessionIndex="${esc(o.sessionIndex ?? '_session-1')}"${o.sessionNotOnOrAfter === undefined ? '' : ` SessionNotOnOrAfter="${iso(o.sessionNotOnOrAfter)}"`}><saml:AuthnContext><saml:AuthnContextClassRef>${esc(o.authnContextClassRef ?? 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport')}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
          (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
          `</saml:Assertion>`;
    return (
      `<samlp:Response xmlns:samlp="${P}" xmlns:saml="${A}" ID="${o.responseId ?? nextId()}" Version="2.0" IssueInstant="${iso(now)}"${destination}${inResponseTo}>` +
      `<saml:Issuer>${issuer}</saml:Issuer>${statusXml}${assertion}</samlp:Response>`
    );
  }

  /** A login Response, signed (and encrypted) by samlify exactly as configured; returns the XML. */
  async responseXml(o: ResponseOptions, acsUrl: string, spEntityId: string): Promise<string> {
    const template = this.responseTemplate(o, acsUrl, spEntityId);
    const sign = o.sign ?? 'assertion';
    if (sign === 'none' && !o.encrypt) return template;
    const signer = o.signingKey ?? { key: IDP_KEY, cert: IDP_CERT };
    const idp = this.idp(o.encrypt ?? false, signer, o.sha1);
    const sp = this.sp(sign === 'none' ? 'response' : sign);
    if (sign === 'none') {
      return Buffer.from(await samlify.SamlLib.encryptAssertion(idp, sp, template), 'base64').toString('utf8');
    }
    const result = await idp.createLoginResponse(sp, {} as never, 'post', {}, {
      customTagReplacement: () => ({ id: 'x', context: template }),
      encryptThenSign: !!o.encrypt,
    } as never);
    return Buffer.from((result as { context: string }).context, 'base64').toString('utf8');
  }

  /** A LogoutRequest from this IdP (POST binding XML), signed over its own ID unless `sign` is false. */
  logoutRequestXml(o: { nameId: string; sessionIndex?: string; destination: string; now?: number; id?: string; sign?: boolean; signingKey?: { key: string; cert: string } }): string {
    const xml =
      `<samlp:LogoutRequest xmlns:samlp="${P}" xmlns:saml="${A}" ID="${o.id ?? nextId()}" Version="2.0" IssueInstant="${iso(o.now ?? Date.now())}" Destination="${esc(o.destination)}">` +
      `<saml:Issuer>${esc(this.entityId)}</saml:Issuer><saml:NameID Format="${PERSISTENT}">${esc(o.nameId)}</saml:NameID>` +
      (o.sessionIndex ? `<samlp:SessionIndex>${esc(o.sessionIndex)}</samlp:SessionIndex>` : '') +
      `</samlp:LogoutRequest>`;
    if (o.sign === false) return xml;
    const signer = o.signingKey ?? { key: IDP_KEY, cert: IDP_CERT };
    return samlify.SamlLib.constructSAMLSignature({
      rawSamlMessage: xml,
      privateKey: signer.key,
      signingCert: signer.cert.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''),
      signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
      isMessageSigned: true,
      isBase64Output: false,
      signatureConfig: { prefix: 'ds', location: { reference: "/*[local-name(.)='LogoutRequest']/*[local-name(.)='Issuer']", action: 'after' } },
    } as never) as unknown as string;
  }
}

export const b64 = (xml: string): string => Buffer.from(xml, 'utf8').toString('base64');
export const deflateB64 = (xml: string): string => deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64');
