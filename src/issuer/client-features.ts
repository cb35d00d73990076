// oidc-provider configuration of client registration (RFC 7591/7592), metadata documents, resource indicators, PAR, DPoP and the device flow: what discovery advertises is what is configured.
import { randomBytes } from 'node:crypto';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { AuthorizationServerConfig } from '../clients/config.js';
import type { ProviderFetch } from '../clients/metadata-fetch.js';
import { applyRegistrationPolicy } from '../clients/registration-policy.js';
import { resourceScopes } from '../clients/config.js';
import { resourceIndicatorsFeature } from '../clients/resource-servers.js';

/** The token endpoint authentication methods the broker supports and tests (no private_key_jwt, no client_secret_jwt). */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;

export interface ClientFeatures {
  settings: AuthorizationServerConfig;
  /** The guarded outbound fetch of metadata documents (metadata-fetch.ts). */
  guardedFetch: ProviderFetch;
  /** Scopes of the issuer besides the resource servers' (registration accepts both). */
  registrationScopes: readonly string[];
  /** The device flow's pages (device-pages.ts); oidc-provider's defaults otherwise. */
  devicePages?: Record<'userCodeInputSource' | 'userCodeConfirmSource' | 'successSource', unknown>;
}

interface DocumentClient {
  clientId: string;
  metadata(): Record<string, unknown>;
}

/** A resource server's access tokens live as long as it is configured to (RFC 8707); others keep the issuer's lifetime. */
function accessTokenTtl(base: unknown) {
  return (ctx: KoaContextWithOIDC, token: { resourceServer?: { accessTokenTTL?: number } }, client: unknown): number => {
    const own = token.resourceServer?.accessTokenTTL;
    if (own !== undefined) return own;
    return typeof base === 'function' ? (base as (...args: unknown[]) => number)(ctx, token, client) : typeof base === 'number' ? base : 600;
  };
}

/** A document client's metadata for the policy: without the defaulted application_type, unless it asked to be native. */
function documentMetadata(client: DocumentClient): Record<string, unknown> {
  const { application_type: applicationType, ...metadata } = client.metadata();
  return applicationType === 'native' ? { ...metadata, application_type: applicationType } : metadata;
}

/** GETs (metadata documents, any URL a client supplied) go through the guarded fetch; the rest (back-channel logout POSTs) as before. */
function composedFetch(guarded: ProviderFetch, base: Configuration['fetch']): Configuration['fetch'] {
  return ((url: URL | string, options: RequestInit & { dispatcher?: unknown }) =>
    (options.method ?? 'GET').toUpperCase() === 'GET' || !base ? guarded(url, options) : (base as ProviderFetch)(url, options)) as Configuration['fetch'];
}

/** The configuration with the client-registration features applied (features merged, fetch composed). */
export function withClientFeatures(configuration: Configuration, features: ClientFeatures | undefined): Configuration {
  const settings = features?.settings;
  const registration = settings?.registration;
  const registrationOn = Boolean(registration && (registration.enabled || registration.open));
  const documents = settings?.clientIdMetadataDocument;
  const scopes = [...(features?.registrationScopes ?? []), ...resourceScopes(settings?.resourceServers ?? [])];
  const documentPolicy = registration && { grantTypes: registration.grantTypes, authMethods: ['none'], scopes, mode: 'open' as const };
  return {
    ...configuration,
    clientAuthMethods: [...CLIENT_AUTH_METHODS],
    ttl: { ...configuration.ttl, AccessToken: accessTokenTtl(configuration.ttl?.AccessToken) },
    // Resource servers' scopes are scopes of the issuer too: a client registers them and asks for them (RFC 8707).
    scopes: [...new Set([...(configuration.scopes ?? []), ...resourceScopes(settings?.resourceServers ?? [])])],
    // A metadata document that omits the method is a public client (the document cannot carry a secret).
    clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'ES256' },
    ...(features ? { fetch: composedFetch(features.guardedFetch, configuration.fetch), fetchResponseBodyLimits: { 'client_id metadata document': documents!.maxBytes } } : {}),
    features: {
      ...configuration.features,
      registration: { enabled: registrationOn, initialAccessToken: false, issueRegistrationAccessToken: true, idFactory: () => `dyn_${randomBytes(16).toString('base64url')}` },
      registrationManagement: { enabled: registrationOn, rotateRegistrationAccessToken: true },
      resourceIndicators: resourceIndicatorsFeature(settings?.resourceServers ?? []) as never,
      dPoP: { enabled: settings?.dpop.enabled ?? false },
      pushedAuthorizationRequests: { enabled: settings?.pushedAuthorizationRequests.enabled ?? false, requirePushedAuthorizationRequests: settings?.pushedAuthorizationRequests.required ?? false },
      deviceFlow: { enabled: settings?.deviceFlow.enabled ?? false, ...features?.devicePages },
      ...(documents?.enabled
        ? {
            clientIdMetadataDocument: {
              enabled: true,
              ack: 'draft-02',
              allowFetch: (_ctx: KoaContextWithOIDC, clientId: string) => !documents.allowedHosts || documents.allowedHosts.includes(new URL(clientId).hostname),
              // The document's metadata passes the same policy as an open registration (public client, strict redirect URIs).
              // oidc-provider fills in application_type "web" when the document omits it: the policy decides it from the redirect URIs instead (RFC 8252).
              allowClient: (_ctx: KoaContextWithOIDC, client: DocumentClient) => !documentPolicy || applyRegistrationPolicy(documentMetadata(client), documentPolicy).ok,
              cacheDuration: { min: documents.cacheMinSeconds, max: documents.cacheMaxSeconds },
            },
          }
        : {}),
    } as Configuration['features'],
  };
}
