// Builds a SAML connector against the test IdP with an injected clock and an in-memory store (shared by the SAML tests).
import pino from 'pino';
import { inflateRawSync } from 'node:zlib';
import { MemoryStore } from '../../src/store/memory.js';
import { samlConnectorFactory, type SamlConfig } from '../../src/connectors/saml.js';
import type { LoginRequest } from '../../src/connectors/connector.js';
import { SP_CERT, SP_KEY, TestIdp, type ResponseOptions, type TestIdpOptions } from '../helpers/upstream-saml.js';

export const ISSUER = 'https://broker.example.test';
export const T0 = Date.parse('2030-01-15T10:00:00Z');

export type Connector = Awaited<ReturnType<typeof makeConnector>>['connector'];

export async function makeConnector(
  overrides: Record<string, unknown> = {},
  options: { idp?: TestIdpOptions; metadataXml?: string; id?: string; production?: boolean } = {},
) {
  let now = T0;
  const clock = { get: () => now, set: (ms: number) => (now = ms), advance: (ms: number) => (now += ms) };
  const store = new MemoryStore({ now: () => now, sweepMs: 0 });
  const id = options.id ?? 'acme-saml';
  const raw = {
    idp: { metadataXml: options.metadataXml ?? TestIdp.metadata(options.idp) },
    sp: { signingKey: SP_KEY, signingCert: SP_CERT },
    schemaValidation: 'off',
    ...overrides,
  };
  const config = samlConnectorFactory.configSchema.parse(raw) as SamlConfig;
  const connector = (await samlConnectorFactory.create({ id, name: 'ACME SAML', domains: ['acme.test'] }, config, {
    issuer: ISSUER,
    store,
    logger: pino({ level: 'silent' }),
    now: () => now,
    baseDir: process.cwd(),
    httpTimeoutMs: 2000,
    production: options.production ?? false,
  })) as import('../../src/connectors/saml.js').SamlServiceProvider & import('../../src/connectors/connector.js').RedirectConnector & import('../../src/connectors/connector.js').LogoutConnector & import('../../src/connectors/connector.js').UnsolicitedResponseConnector;
  const idp = new TestIdp(connector.spMetadata(), options.idp);
  const acsUrl = `${ISSUER}/callback/${id}`;
  const spEntityId = `${ISSUER}/saml/${id}/metadata`;
  return { connector, idp, store, clock, acsUrl, spEntityId, id };
}

export function loginRequest(extra: Partial<LoginRequest> = {}): LoginRequest {
  return { interactionUid: 'uid-1', callbackUrl: `${ISSUER}/callback/acme-saml`, state: 'state-abc', ...extra };
}

/** The AuthnRequest XML carried by a Redirect-binding URL. */
export function authnRequestFromRedirect(url: string): string {
  const param = new URL(url).searchParams.get('SAMLRequest')!;
  return inflateRawSync(Buffer.from(param, 'base64')).toString('utf8');
}

export function requestIdOf(xml: string): string {
  return /ID="([^"]+)"/.exec(xml)![1]!;
}

/** Starts a login, lets the IdP answer, returns what the broker would hand to handleCallback. */
export async function solicitedResponse(env: Awaited<ReturnType<typeof makeConnector>>, options: ResponseOptions = {}) {
  const start = await env.connector.startLogin(loginRequest());
  const requestId = start.transactionData.requestId as string;
  const xml = await env.idp.responseXml({ now: env.clock.get(), inResponseTo: requestId, ...options }, env.acsUrl, env.spEntityId);
  return { xml, transactionData: start.transactionData, requestId };
}

export function callbackInput(xml: string, relayState = 'state-abc') {
  return { method: 'POST' as const, params: { SAMLResponse: Buffer.from(xml, 'utf8').toString('base64'), RelayState: relayState }, url: new URL(`${ISSUER}/callback/acme-saml`) };
}
