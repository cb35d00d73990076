// IdP metadata (file, inline XML, URL with scheduled refresh and certificate rollover) and the broker's SP metadata document.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Element } from '@xmldom/xmldom';
import { toTrustedCert, type TrustedCert } from './saml-signature.js';
import { NS, attr, childElements, descendants, escapeXml, is, parseUntrustedXml, textOf } from './saml-xml.js';

export const BINDING = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;

export const NAMEID_FORMAT = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  emailAddress: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
} as const;

/** Largest metadata document accepted (federation aggregates are big, but bounded). */
const MAX_METADATA_BYTES = 10 * 1024 * 1024;

export interface Endpoint {
  binding: string;
  location: string;
}

export interface IdpMetadata {
  entityId: string;
  sso: Endpoint[];
  slo: Endpoint[];
  signingCerts: TrustedCert[];
  wantAuthnRequestsSigned: boolean;
}

/** Parses IdP metadata: an EntityDescriptor, or an EntitiesDescriptor from which `entityId` selects one. */
export function parseIdpMetadata(xml: string, entityId?: string): IdpMetadata {
  const doc = parseUntrustedXml(xml, MAX_METADATA_BYTES);
  const root = doc.documentElement!;
  let entity: Element | undefined;
  if (is(root, NS.metadata, 'EntityDescriptor')) entity = root;
  else if (is(root, NS.metadata, 'EntitiesDescriptor')) {
    const all = descendants(root).filter((el) => is(el, NS.metadata, 'EntityDescriptor'));
    entity = entityId ? all.find((el) => attr(el, 'entityID') === entityId) : all.length === 1 ? all[0] : undefined;
  }
  if (!entity) throw new Error(entityId ? `metadata has no EntityDescriptor for ${entityId}` : 'metadata must contain exactly one EntityDescriptor (or set idp.entityId)');
  const id = attr(entity, 'entityID');
  if (!id) throw new Error('EntityDescriptor has no entityID');
  if (entityId && id !== entityId) throw new Error(`metadata describes ${id}, not ${entityId}`);
  const idp = childElements(entity, NS.metadata, 'IDPSSODescriptor')[0];
  if (!idp) throw new Error(`${id} has no IDPSSODescriptor`);
  if (!(attr(idp, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(NS.protocol)) {
    throw new Error(`${id} does not support SAML 2.0`);
  }
  const endpoints = (name: string): Endpoint[] =>
    childElements(idp, NS.metadata, name)
      .map((el) => ({ binding: attr(el, 'Binding') ?? '', location: attr(el, 'Location') ?? '' }))
      .filter((e) => e.location.startsWith('https://') || e.location.startsWith('http://'));
  const signingCerts: TrustedCert[] = [];
  for (const key of childElements(idp, NS.metadata, 'KeyDescriptor')) {
    const use = attr(key, 'use');
    if (use !== undefined && use !== 'signing') continue;
    for (const info of childElements(key, NS.dsig, 'KeyInfo')) {
      for (const data of childElements(info, NS.dsig, 'X509Data')) {
        for (const cert of childElements(data, NS.dsig, 'X509Certificate')) signingCerts.push(toTrustedCert(textOf(cert)));
      }
    }
  }
  if (signingCerts.length === 0) throw new Error(`${id} publishes no signing certificate`);
  const sso = endpoints('SingleSignOnService');
  if (sso.length === 0) throw new Error(`${id} has no SingleSignOnService`);
  return { entityId: id, sso, slo: endpoints('SingleLogoutService'), signingCerts, wantAuthnRequestsSigned: attr(idp, 'WantAuthnRequestsSigned') === 'true' };
}

export type MetadataSource =
  | { kind: 'xml'; xml: string }
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string; refreshMs: number; keepRetiredMs: number };

export interface MetadataStoreOptions {
  source: MetadataSource;
  entityId?: string;
  baseDir: string;
  logger: Logger;
  now: () => number;
  httpTimeoutMs: number;
  /** The fetch for the metadata URL (metrics time it); default the global fetch. */
  fetch?: typeof fetch;
  /** Extra certificates from the provider file (always trusted, e.g. the next cert announced out of band). */
  extraCerts: TrustedCert[];
}

/**
 * Holds the current IdP metadata. A URL source is refreshed on a schedule; certificates that disappear stay trusted
 * for `keepRetiredMs` so logins in flight during a rollover still verify. A failed refresh keeps the last good copy.
 */
export class IdpMetadataStore {
  private current!: IdpMetadata;
  private retired = new Map<string, { cert: TrustedCert; until: number }>();
  private timer?: NodeJS.Timeout;

  private constructor(private readonly options: MetadataStoreOptions) {}

  static async load(options: MetadataStoreOptions): Promise<IdpMetadataStore> {
    const store = new IdpMetadataStore(options);
    store.current = parseIdpMetadata(await store.fetch(), options.entityId);
    if (options.source.kind === 'url') {
      store.timer = setInterval(() => void store.refresh(), options.source.refreshMs);
      store.timer.unref();
    }
    return store;
  }

  get metadata(): IdpMetadata {
    return this.current;
  }

  /** Signing certificates trusted right now: current metadata, retired ones still in their grace period, extras. */
  get signingCerts(): TrustedCert[] {
    const now = this.options.now();
    const out = [...this.current.signingCerts, ...this.options.extraCerts];
    const seen = new Set(out.map((c) => c.der.toString('base64')));
    for (const [key, retired] of this.retired) {
      if (retired.until <= now) this.retired.delete(key);
      else if (!seen.has(key)) out.push(retired.cert);
    }
    return out;
  }

  /** Re-reads the source; on failure keeps the previous metadata and logs. Returns true when replaced. */
  async refresh(): Promise<boolean> {
    try {
      const next = parseIdpMetadata(await this.fetch(), this.options.entityId);
      if (next.entityId !== this.current.entityId) throw new Error(`entityID changed from ${this.current.entityId} to ${next.entityId}`);
      const keep = this.options.source.kind === 'url' ? this.options.source.keepRetiredMs : 0;
      const nextKeys = new Set(next.signingCerts.map((c) => c.der.toString('base64')));
      for (const cert of this.current.signingCerts) {
        const key = cert.der.toString('base64');
        if (!nextKeys.has(key) && keep > 0) this.retired.set(key, { cert, until: this.options.now() + keep });
      }
      this.current = next;
      return true;
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message, entityId: this.current.entityId }, 'SAML IdP metadata refresh failed; keeping the previous copy');
      return false;
    }
  }

  private async fetch(): Promise<string> {
    const { source } = this.options;
    if (source.kind === 'xml') return source.xml;
    if (source.kind === 'file') return readFile(resolve(this.options.baseDir, source.path), 'utf8');
    const response = await (this.options.fetch ?? fetch)(source.url, { signal: AbortSignal.timeout(this.options.httpTimeoutMs), redirect: 'error' });
    if (!response.ok) throw new Error(`metadata ${source.url} answered ${response.status}`);
    const length = Number(response.headers.get('content-length') ?? '0');
    if (length > MAX_METADATA_BYTES) throw new Error(`metadata ${source.url} is larger than ${MAX_METADATA_BYTES} bytes`);
    return response.text();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** Picks the IdP endpoint for the preferred binding, falling back to the other supported one. */
export function pickEndpoint(endpoints: Endpoint[], preferred: 'redirect' | 'post'): { binding: 'redirect' | 'post'; location: string } | undefined {
  const order: Array<'redirect' | 'post'> = preferred === 'redirect' ? ['redirect', 'post'] : ['post', 'redirect'];
  for (const binding of order) {
    const found = endpoints.find((e) => e.binding === BINDING[binding]);
    if (found) return { binding, location: found.location };
  }
  return undefined;
}

export interface SpMetadataInput {
  entityId: string;
  acsUrl: string;
  sloUrl: string;
  signingCertPem?: string;
  encryptionCertPem?: string;
  authnRequestsSigned: boolean;
  wantAssertionsSigned: boolean;
  nameIdFormat: string;
}

function certBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

function keyDescriptor(use: 'signing' | 'encryption', pem: string): string {
  const methods =
    use === 'encryption'
      ? '<md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/><md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/><md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/><md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>'
      : '';
  return `<md:KeyDescriptor use="${use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>${methods}</md:KeyDescriptor>`;
}

/** The broker's SP metadata for one connector (saml-metadata §2.4.4). */
export function buildSpMetadata(input: SpMetadataInput): string {
  const keys = [input.signingCertPem ? keyDescriptor('signing', input.signingCertPem) : '', input.encryptionCertPem ? keyDescriptor('encryption', input.encryptionCertPem) : ''].join('');
  const slo = [BINDING.redirect, BINDING.post].map((b) => `<md:SingleLogoutService Binding="${b}" Location="${escapeXml(input.sloUrl)}"/>`).join('');
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" entityID="${escapeXml(input.entityId)}">` +
    `<md:SPSSODescriptor AuthnRequestsSigned="${input.authnRequestsSigned}" WantAssertionsSigned="${input.wantAssertionsSigned}" protocolSupportEnumeration="${NS.protocol}">` +
    keys +
    slo +
    `<md:NameIDFormat>${escapeXml(input.nameIdFormat)}</md:NameIDFormat>` +
    `<md:AssertionConsumerService Binding="${BINDING.post}" Location="${escapeXml(input.acsUrl)}" index="0" isDefault="true"/>` +
    `</md:SPSSODescriptor></md:EntityDescriptor>\n`
  );
}
