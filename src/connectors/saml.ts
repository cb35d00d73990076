// The upstream SAML 2.0 connector: SP-initiated login, hardened ACS, SP metadata, Single Logout, guarded IdP-initiated login.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from 'pino';
import { ConnectorError, type BrowserReauthConnector, type CallbackInput, type Identity, type LoginRequest, type LoginStart, type LogoutConnector, type Connector, type UnsolicitedResponseConnector } from './connector.js';
import { claimMappingSchema, mapIdentity, type ClaimMapping } from './claims.js';
import type { ConnectorContext, ConnectorFactory } from './registry.js';
import type { KeyValueStore } from '../store/store.js';
import { developmentKeyPair, loadKeyPair, readPem, type KeyPair } from './saml-keys.js';
import { IdpMetadataStore, NAMEID_FORMAT, buildSpMetadata, pickEndpoint, type MetadataSource } from './saml-metadata.js';
import { buildAuthnRequest, buildLogoutRequest, buildLogoutResponse, encodeMessage, newMessageId, type OutboundMessage, type SigningKey } from './saml-request.js';
import type { SamlAttribute, SignaturePolicy, VerifiedAssertion } from './saml-response.js';
import { acquireSamlPool, releaseSamlPool, type SamlWorkerPool } from './saml-worker-pool.js';
import { toTrustedCert } from './saml-signature.js';
import { verifyLogoutRequest, verifyLogoutResponse, type SloInput } from './saml-logout.js';
import { decodePostBinding } from './saml-xml.js';

const attributeNames = z.array(z.string().min(1).max(512)).max(32);

/** Default paths the claim mapping reads; the connector fills these keys from the assertion. */
const SAML_CLAIM_PATHS = {
  subject: ['saml:subject'],
  email: ['saml:email'],
  emailVerified: ['saml:emailVerified'],
  name: ['saml:name'],
  groups: ['saml:groups'],
};

export const samlConfigSchema = z.strictObject({
  idp: z
    .strictObject({
      /** IdP metadata: exactly one of a file (relative to the provider file), inline XML, or an https URL. */
      metadataFile: z.string().min(1).optional(),
      metadataXml: z.string().min(1).optional(),
      metadataUrl: z.url({ protocol: /^https?$/ }).optional(),
      metadataRefreshMinutes: z.number().int().min(1).max(10_080).default(60),
      /** Certificates that vanish from refreshed metadata stay trusted this long (rollover). */
      retiredCertGraceHours: z.number().min(0).max(24 * 90).default(24),
      /** Selects the IdP inside an aggregate (EntitiesDescriptor); checked against a single EntityDescriptor. */
      entityId: z.string().min(1).optional(),
      /** Extra trusted signing certificates (PEM or base64 DER), e.g. the IdP's next certificate. */
      extraSigningCerts: z.array(z.string().min(1)).max(8).default([]),
    })
    .refine((idp) => [idp.metadataFile, idp.metadataXml, idp.metadataUrl].filter(Boolean).length === 1, {
      message: 'set exactly one of metadataFile, metadataXml, metadataUrl',
    }),
  sp: z
    .strictObject({
      /** The SP entityID; default `${issuer}/saml/${connectorId}/metadata`. */
      entityId: z.string().min(1).optional(),
      /** PEM or path to a PEM file; "$ENV" references are resolved by the config loader. */
      signingKey: z.string().min(1).optional(),
      signingCert: z.string().min(1).optional(),
      /** Encryption key pair; defaults to the signing pair. */
      encryptionKey: z.string().min(1).optional(),
      encryptionCert: z.string().min(1).optional(),
      /** Older decryption keys still accepted during an SP key rollover. */
      previousEncryptionKeys: z.array(z.string().min(1)).max(4).default([]),
    })
    .refine((sp) => !!sp.signingKey === !!sp.signingCert, { message: 'signingKey and signingCert go together' })
    .refine((sp) => !!sp.encryptionKey === !!sp.encryptionCert, { message: 'encryptionKey and encryptionCert go together' })
    .prefault({}),
  /** Binding of the AuthnRequest (the ACS always uses HTTP-POST). */
  authnRequestBinding: z.enum(['redirect', 'post']).default('redirect'),
  /** Sign AuthnRequests (RSA-SHA256); default: what the IdP metadata asks for (WantAuthnRequestsSigned). */
  signAuthnRequests: z.boolean().optional(),
  /** Which signature must cover the assertion that is used. */
  signaturePolicy: z.enum(['assertion', 'response', 'either', 'both']).default('assertion'),
  requireEncryptedAssertions: z.boolean().default(false),
  /** Accept RSA-SHA1 / SHA-1 digests. Off: only for IdPs that cannot do better. */
  allowSha1: z.boolean().default(false),
  clockSkewSeconds: z.number().int().min(0).max(600).default(120),
  nameIdFormat: z.enum(['persistent', 'emailAddress', 'transient', 'unspecified']).default('persistent'),
  /** Attribute names (URI Name or FriendlyName), first match wins. */
  attributes: z
    .strictObject({
      /** A stable subject attribute (required when the IdP sends transient NameIDs). Default: the NameID. */
      subject: attributeNames.default([]),
      email: attributeNames.default(['email', 'mail', 'emailAddress', 'urn:oid:0.9.2342.19200300.100.1.3', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress']),
      name: attributeNames.default(['displayName', 'name', 'urn:oid:2.16.840.1.113730.3.1.241', 'http://schemas.microsoft.com/identity/claims/displayname', 'cn', 'urn:oid:2.5.4.3']),
      givenName: attributeNames.default(['givenName', 'firstName', 'urn:oid:2.5.4.42', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname']),
      familyName: attributeNames.default(['sn', 'surname', 'lastName', 'urn:oid:2.5.4.4', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname']),
      groups: attributeNames.default(['groups', 'memberOf', 'isMemberOf', 'urn:oid:1.3.6.1.4.1.5923.1.5.1.1', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups', 'http://schemas.xmlsoap.org/claims/Group', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role']),
    })
    .prefault({}),
  /** Declarative mapping (src/connectors/claims.ts) applied last; its paths read raw attributes by Name or FriendlyName. */
  claims: z.preprocess((value) => ({ ...SAML_CLAIM_PATHS, ...((value as object | undefined) ?? {}) }), claimMappingSchema),
  /** Downstream acr value -> AuthnContextClassRefs to request; the reverse maps the asserted class back to acr. */
  acrValues: z.record(z.string().min(1), z.array(z.string().min(1)).min(1)).default({}),
  authnContextComparison: z.enum(['exact', 'minimum', 'maximum', 'better']).default('exact'),
  /**
   * IdP-initiated login. Never accepted as a login: a valid unsolicited Response is answered by sending the browser to
   * the client's OIDC `initiate_login_uri` (OpenID Connect Core §4), which starts a fresh SP-initiated flow.
   */
  idpInitiated: z
    .strictObject({
      enabled: z.boolean().default(false),
      initiateLoginUri: z.url({ protocol: /^https?$/ }).optional(),
      targetLinkUri: z.url({ protocol: /^https?$/ }).optional(),
    })
    .refine((v) => !v.enabled || !!v.initiateLoginUri, { message: 'initiateLoginUri is required when IdP-initiated login is enabled' })
    .prefault({}),
  /**
   * Re-verification at the interval: a SAML IdP cannot be asked in the back channel, so a due session is marked and the
   * next authorization that reuses it goes through the IdP: IsPassive (`passive`, nothing shown while the IdP still has
   * the user's session) or ForceAuthn (`force`, the user signs in again). A marked session serves refresh grants and
   * userinfo for `graceSeconds`, then ends (upstream_reauth_timeout).
   */
  reauthentication: z
    .strictObject({
      mode: z.enum(['passive', 'force']).default('passive'),
      graceSeconds: z.number().int().min(0).max(86_400).default(300),
    })
    .prefault({}),
  /** XSD validation of every login Response, in the SAML worker pool ('off' skips it; the structural checks always run). */
  schemaValidation: z.enum(['worker', 'off']).default('worker'),
});

export type SamlConfig = z.output<typeof samlConfigSchema>;

const AMR_BY_CLASS: Array<[RegExp, string]> = [
  [/:ac:classes:(Password|PasswordProtectedTransport)$/, 'pwd'],
  [/:ac:classes:(X509|Smartcard|SmartcardPKI|SoftwarePKI)$/, 'sc'],
  [/:ac:classes:TimeSyncToken$/, 'otp'],
  [/:ac:classes:MobileTwoFactor(Contract|Unregistered)$|claims\/multipleauthn$|:ac:classes:Kerberos$/, 'mfa'],
];

export interface EndSessionsInput {
  connectorId: string;
  nameId: string;
  /** Absent: every session of that NameID at this connector. */
  sessionIndex?: string;
}


/** What /saml/<id>/slo does with an IdP message: end sessions and answer, or finish an SP-initiated logout. */
export type SloOutcome = { kind: 'request'; message: OutboundMessage; endedSessions: number } | { kind: 'response'; returnTo: string; success: boolean };

export interface SamlServiceProvider extends Connector {
  readonly type: 'saml';
  spMetadata(): string;
  handleSlo(input: SloInput, endSessions: (input: EndSessionsInput) => Promise<number>): Promise<SloOutcome>;
}

export const isSamlServiceProvider = (c: Connector): c is SamlServiceProvider =>
  c.type === 'saml' && typeof (c as SamlServiceProvider).handleSlo === 'function';

function hashKey(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

class SamlConnector implements BrowserReauthConnector, LogoutConnector, UnsolicitedResponseConnector, SamlServiceProvider {
  readonly type = 'saml' as const;
  readonly spEntityId: string;
  readonly acsUrl: string;
  readonly sloUrl: string;

  constructor(
    readonly id: string,
    readonly displayName: string,
    readonly domains: readonly string[],
    private readonly config: SamlConfig,
    private readonly idp: IdpMetadataStore,
    private readonly signing: KeyPair,
    private readonly encryption: KeyPair,
    private readonly previousDecryptionKeys: string[],
    private readonly pool: SamlWorkerPool,
    private readonly store: KeyValueStore,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly issuer: string,
  ) {
    this.spEntityId = config.sp.entityId ?? `${issuer}/saml/${id}/metadata`;
    this.acsUrl = `${issuer}/callback/${id}`;
    this.sloUrl = `${issuer}/saml/${id}/slo`;
  }

  get reauthentication(): BrowserReauthConnector['reauthentication'] {
    return { mode: this.config.reauthentication.mode, graceMs: this.config.reauthentication.graceSeconds * 1000 };
  }

  private get skewMs(): number {
    return this.config.clockSkewSeconds * 1000;
  }

  private get signAuthnRequests(): boolean {
    return this.config.signAuthnRequests ?? this.idp.metadata.wantAuthnRequestsSigned;
  }

  private get signingKey(): SigningKey {
    return { privateKeyPem: this.signing.privateKeyPem, certPem: this.signing.certPem };
  }

  spMetadata(): string {
    return buildSpMetadata({
      entityId: this.spEntityId,
      acsUrl: this.acsUrl,
      sloUrl: this.sloUrl,
      signingCertPem: this.signing.certPem,
      encryptionCertPem: this.encryption.certPem,
      authnRequestsSigned: this.signAuthnRequests,
      wantAssertionsSigned: this.config.signaturePolicy !== 'response',
      nameIdFormat: NAMEID_FORMAT[this.config.nameIdFormat],
    });
  }

  async startLogin(request: LoginRequest): Promise<LoginStart> {
    const endpoint = pickEndpoint(this.idp.metadata.sso, this.config.authnRequestBinding);
    if (!endpoint) throw new ConnectorError('saml_no_endpoint', 'the IdP has no SingleSignOnService for HTTP-Redirect or HTTP-POST', { status: 502 });
    const classRefs = [...new Set((request.acrValues ?? []).flatMap((acr) => this.config.acrValues[acr] ?? []))];
    const requestId = newMessageId();
    const forceAuthn = request.forceLogin === true || request.maxAge === 0;
    const xml = buildAuthnRequest({
      id: requestId,
      now: this.now(),
      destination: endpoint.location,
      spEntityId: this.spEntityId,
      acsUrl: this.acsUrl,
      nameIdFormat: NAMEID_FORMAT[this.config.nameIdFormat],
      forceAuthn,
      isPassive: request.passive === true && !forceAuthn,
      ...(classRefs.length > 0 ? { requestedAuthnContext: { comparison: this.config.authnContextComparison, classRefs } } : {}),
    });
    const message = encodeMessage(xml, 'SAMLRequest', endpoint.binding, endpoint.location, request.state, this.signAuthnRequests ? this.signingKey : undefined);
    return { ...message, transactionData: { requestId, requestedAuthnContext: classRefs } };
  }

  private async verify(input: CallbackInput, expectedRequestId: string | undefined): Promise<VerifiedAssertion> {
    if (input.method !== 'POST') throw new ConnectorError('saml_binding_unsupported', 'the assertion consumer service accepts HTTP-POST only', { status: 405 });
    const encoded = input.params.SAMLResponse;
    if (!encoded) throw new ConnectorError('saml_missing_response', 'no SAMLResponse in the request');
    const xml = decodePostBinding(encoded);
    const now = this.now();
    // Parse, decryption, signatures and every stateless check run in the worker pool; the replay cache stays here.
    const verified = await this.pool.verify(xml, {
      idpEntityId: this.idp.metadata.entityId,
      certs: this.idp.signingCerts,
      spEntityId: this.spEntityId,
      acsUrl: this.acsUrl,
      expectedRequestId,
      now,
      clockSkewMs: this.skewMs,
      signaturePolicy: this.config.signaturePolicy as SignaturePolicy,
      signature: { allowSha1: this.config.allowSha1 },
      requireEncryption: this.config.requireEncryptedAssertions,
      decryptionKeys: [this.encryption.privateKeyPem, ...this.previousDecryptionKeys],
    }, this.config.schemaValidation === 'worker');
    const fresh = await this.store.setIfAbsent(`saml:assertion:${this.id}:${hashKey(verified.assertionId)}`, 1, Math.max(1000, verified.replayUntil - now));
    if (!fresh) throw new ConnectorError('saml_replay', 'this assertion has already been used');
    return verified;
  }

  async handleCallback(input: CallbackInput, transactionData: Record<string, unknown>): Promise<Identity> {
    const requestId = transactionData.requestId;
    if (typeof requestId !== 'string' || requestId.length === 0) throw new ConnectorError('saml_unsolicited', 'no pending AuthnRequest for this response');
    const verified = await this.verify(input, requestId);
    return this.toIdentity(verified);
  }

  async handleUnsolicited(input: CallbackInput): Promise<{ redirectUrl: string }> {
    const settings = this.config.idpInitiated;
    if (!settings.enabled || !settings.initiateLoginUri) {
      throw new ConnectorError('saml_unsolicited', 'IdP-initiated login is not enabled for this connector');
    }
    // Verified in full (and its ID burnt) so the broker never bounces arbitrary posts; the assertion itself is not used.
    await this.verify(input, undefined);
    const target = new URL(settings.initiateLoginUri);
    target.searchParams.set('iss', this.issuer);
    if (settings.targetLinkUri) target.searchParams.set('target_link_uri', settings.targetLinkUri);
    return { redirectUrl: target.href };
  }

  private toIdentity(verified: VerifiedAssertion): Identity {
    const { attributes: names } = this.config;
    const byName = new Map<string, SamlAttribute>();
    const raw: Record<string, unknown> = {};
    for (const attribute of verified.attributes) {
      const value = attribute.values.length === 1 ? attribute.values[0] : attribute.values;
      for (const key of [attribute.name, attribute.friendlyName]) {
        if (!key || byName.has(key)) continue;
        byName.set(key, attribute);
        raw[key] = value;
      }
    }
    const first = (list: string[]): string | undefined => {
      for (const name of list) {
        const value = byName.get(name)?.values.find((v) => v.length > 0);
        if (value) return value;
      }
      return undefined;
    };
    const subjectAttribute = names.subject.length > 0 ? first(names.subject) : undefined;
    if (names.subject.length > 0 && !subjectAttribute) throw new ConnectorError('missing_subject', 'the configured subject attribute is absent', { status: 502 });
    if (!subjectAttribute && verified.nameIdFormat === NAMEID_FORMAT.transient) {
      throw new ConnectorError('saml_transient_nameid', 'a transient NameID cannot identify an account; configure attributes.subject', { status: 502 });
    }
    const email = first(names.email) ?? (verified.nameIdFormat === NAMEID_FORMAT.emailAddress ? verified.nameId : undefined);
    const given = first(names.givenName);
    const family = first(names.familyName);
    const name = first(names.name) ?? ([given, family].filter(Boolean).join(' ') || undefined);
    const groups = names.groups.flatMap((n) => byName.get(n)?.values ?? []).filter((g) => g.length > 0);
    const classRef = verified.authnContextClassRef;
    const acr = classRef ? (Object.entries(this.config.acrValues).find(([, refs]) => refs.includes(classRef))?.[0] ?? classRef) : undefined;
    const amr = classRef ? AMR_BY_CLASS.filter(([re]) => re.test(classRef)).map(([, v]) => v) : [];

    raw['saml:subject'] = subjectAttribute ?? verified.nameId;
    if (email) raw['saml:email'] = email;
    if (name) raw['saml:name'] = name;
    raw['saml:groups'] = [...new Set(groups)];
    raw['saml:nameId'] = verified.nameId;
    if (verified.nameIdFormat) raw['saml:nameIdFormat'] = verified.nameIdFormat;
    if (given) raw.given_name = raw.given_name ?? given;
    if (family) raw.family_name = raw.family_name ?? family;

    const connectorData: Record<string, unknown> = { nameId: verified.nameId, idpEntityId: verified.issuer };
    for (const key of ['nameIdFormat', 'nameQualifier', 'spNameQualifier', 'sessionIndex'] as const) if (verified[key]) connectorData[key] = verified[key];

    const identity: Identity = {
      connectorId: this.id,
      subject: subjectAttribute ?? verified.nameId,
      groups: [],
      amr,
      authTime: Math.floor((verified.authnInstant ?? this.now()) / 1000),
      rawClaims: raw,
      connectorData,
      ...(verified.sessionNotOnOrAfter !== undefined ? { sessionNotOnOrAfter: verified.sessionNotOnOrAfter } : {}),
      ...(acr ? { acr } : {}),
    };
    return mapIdentity(identity, this.config.claims as ClaimMapping);
  }

  async logout(identity: Identity, returnTo: string, state: string): Promise<OutboundMessage | undefined> {
    const data = identity.connectorData ?? {};
    const endpoint = pickEndpoint(this.idp.metadata.slo, 'redirect');
    if (!endpoint || typeof data.nameId !== 'string') return undefined;
    const requestId = newMessageId();
    const xml = buildLogoutRequest({
      id: requestId,
      now: this.now(),
      destination: endpoint.location,
      spEntityId: this.spEntityId,
      nameId: data.nameId,
      ...(typeof data.nameIdFormat === 'string' ? { nameIdFormat: data.nameIdFormat } : {}),
      ...(typeof data.nameQualifier === 'string' ? { nameQualifier: data.nameQualifier } : {}),
      ...(typeof data.spNameQualifier === 'string' ? { spNameQualifier: data.spNameQualifier } : {}),
      ...(typeof data.sessionIndex === 'string' ? { sessionIndex: data.sessionIndex } : {}),
    });
    await this.store.set(`saml:logout:${this.id}:${hashKey(state)}`, { requestId, returnTo }, 15 * 60_000);
    return encodeMessage(xml, 'SAMLRequest', endpoint.binding, endpoint.location, state, this.signingKey);
  }

  async handleSlo(input: SloInput, endSessions: (input: EndSessionsInput) => Promise<number>): Promise<SloOutcome> {
    const now = this.now();
    const options = {
      idpEntityId: this.idp.metadata.entityId,
      certs: this.idp.signingCerts,
      sloUrl: this.sloUrl,
      now,
      clockSkewMs: this.skewMs,
      signature: { allowSha1: this.config.allowSha1 },
      maxAgeMs: 10 * 60_000,
    };
    if (input.params.SAMLResponse !== undefined) {
      const verified = verifyLogoutResponse(input, options);
      const relayState = input.params.RelayState;
      const pending = relayState ? await this.store.take<{ requestId: string; returnTo: string }>(`saml:logout:${this.id}:${hashKey(relayState)}`) : undefined;
      if (!pending || pending.requestId !== verified.inResponseTo) throw new ConnectorError('saml_in_response_to_mismatch', 'the LogoutResponse answers no pending logout');
      return { kind: 'response', returnTo: pending.returnTo, success: verified.success };
    }
    const request = verifyLogoutRequest(input, options);
    const fresh = await this.store.setIfAbsent(`saml:slo-request:${this.id}:${hashKey(request.id)}`, 1, options.maxAgeMs + 2 * this.skewMs);
    if (!fresh) throw new ConnectorError('saml_replay', 'this LogoutRequest has already been processed');
    let ended = 0;
    let status = 'urn:oasis:names:tc:SAML:2.0:status:Success';
    try {
      if (request.sessionIndexes.length === 0) ended = await endSessions({ connectorId: this.id, nameId: request.nameId });
      for (const sessionIndex of request.sessionIndexes) ended += await endSessions({ connectorId: this.id, nameId: request.nameId, sessionIndex });
    } catch (error) {
      this.logger.error({ err: (error as Error).message, connectorId: this.id }, 'ending sessions for a SAML LogoutRequest failed');
      status = 'urn:oasis:names:tc:SAML:2.0:status:Responder';
    }
    const endpoint = pickEndpoint(this.idp.metadata.slo, input.binding);
    if (!endpoint) throw new ConnectorError('saml_no_endpoint', 'the IdP publishes no SingleLogoutService to answer', { status: 502 });
    const xml = buildLogoutResponse({ id: newMessageId(), now, destination: endpoint.location, spEntityId: this.spEntityId, inResponseTo: request.id, statusCode: status });
    return { kind: 'request', endedSessions: ended, message: encodeMessage(xml, 'SAMLResponse', endpoint.binding, endpoint.location, input.params.RelayState, this.signingKey) };
  }

  async close(): Promise<void> {
    this.idp.close();
    await releaseSamlPool(this.pool);
  }
}

async function spKeys(base: { id: string }, config: SamlConfig, context: ConnectorContext): Promise<{ signing: KeyPair; encryption: KeyPair; previous: string[] }> {
  let signing: KeyPair;
  if (config.sp.signingKey && config.sp.signingCert) signing = loadKeyPair(config.sp.signingKey, config.sp.signingCert, context.baseDir);
  else if (context.production) throw new Error(`provider ${base.id}: sp.signingKey and sp.signingCert are required in production (generated keys are for development only)`);
  else {
    signing = await developmentKeyPair(context.store, base.id, `vestibule-sp-${base.id}`, context.now());
    context.logger.warn({ connectorId: base.id }, 'SAML SP is using a GENERATED development key pair; configure sp.signingKey/sp.signingCert before production');
  }
  const encryption =
    config.sp.encryptionKey && config.sp.encryptionCert ? loadKeyPair(config.sp.encryptionKey, config.sp.encryptionCert, context.baseDir) : signing;
  const previous = config.sp.previousEncryptionKeys.map((k) => readPem(k, context.baseDir));
  return { signing, encryption, previous };
}

export const samlConnectorFactory: ConnectorFactory<typeof samlConfigSchema> = {
  type: 'saml',
  configSchema: samlConfigSchema,
  async create(base, config, context) {
    const source: MetadataSource = config.idp.metadataUrl
      ? { kind: 'url', url: config.idp.metadataUrl, refreshMs: config.idp.metadataRefreshMinutes * 60_000, keepRetiredMs: config.idp.retiredCertGraceHours * 3_600_000 }
      : config.idp.metadataFile
        ? { kind: 'file', path: config.idp.metadataFile }
        : { kind: 'xml', xml: config.idp.metadataXml! };
    const idp = await IdpMetadataStore.load({
      source,
      ...(config.idp.entityId ? { entityId: config.idp.entityId } : {}),
      baseDir: context.baseDir,
      logger: context.logger,
      now: context.now,
      httpTimeoutMs: context.httpTimeoutMs,
      ...(context.fetch ? { fetch: context.fetch } : {}),
      extraCerts: config.idp.extraSigningCerts.map(toTrustedCert),
    }).catch((error: Error) => {
      throw new Error(`provider ${base.id}: IdP metadata unusable: ${error.message}`);
    });
    const keys = await spKeys(base, config, context).catch((error: Error) => {
      idp.close();
      throw error;
    });
    if (config.allowSha1) context.logger.warn({ connectorId: base.id }, 'SAML connector accepts SHA-1 signatures (allowSha1)');
    if (config.schemaValidation === 'off') context.logger.warn({ connectorId: base.id }, 'SAML schema validation is off; structural checks still apply');
    const pool = acquireSamlPool();
    // Workers compile the XSD validator now, at start, rather than on the first login.
    if (config.schemaValidation === 'worker') pool.enableSchema();
    return new SamlConnector(base.id, base.name, base.domains, config, idp, keys.signing, keys.encryption, keys.previous, pool, context.store, context.logger, context.now, context.issuer);
  },
};
