// Builds the client-registration parts the app wires in: registered-client records over the oidc-provider adapter, initial access tokens, the guarded fetch and the issuer features.
import type { BrokerConfig } from '../config/load.js';
import type { ClientFeatures } from '../issuer/client-features.js';
import type { OidcAdapterClass } from '../store/oidc-adapter.js';
import type { KeyValueStore } from '../store/store.js';
import { InitialAccessTokens } from './initial-access-tokens.js';
import type { Resolver } from '../outbound/guarded-agent.js';
import { guardedFetch } from './metadata-fetch.js';
import { RegisteredClients, withRegisteredClients } from './registered-clients.js';
import { resourceScopes } from './config.js';
import { softwareStatementVerifier, type SoftwareStatementVerifier } from './software-statement.js';

export interface ClientRegistrationDeps {
  config: BrokerConfig;
  store: KeyValueStore;
  adapter: OidcAdapterClass;
  now: () => number;
  /** Resolves host names for outbound fetches (tests map their names to 127.0.0.1). */
  resolver?: Resolver;
  /** Extra trusted CA certificates for outbound fetches (tests serve documents over https on loopback). */
  ca?: string;
}

export interface ClientRegistration {
  /** The adapter oidc-provider uses: registered clients go through their records (disabled, index, unused expiry). */
  adapter: OidcAdapterClass;
  registered: RegisteredClients;
  tokens: InitialAccessTokens;
  features: ClientFeatures;
  /** Scopes a registration may ask for: the issuer's registration scopes and every resource server's. */
  scopes: string[];
  verifyStatement: SoftwareStatementVerifier;
  close(): Promise<void>;
}

export function createClientRegistration(deps: ClientRegistrationDeps): ClientRegistration {
  const settings = deps.config.authorizationServer;
  const registered = new RegisteredClients(deps.store, deps.adapter, deps.now);
  const documents = settings.clientIdMetadataDocument;
  const fetch = guardedFetch({ allowed: documents.allowedAddresses, timeoutMs: documents.timeoutMs, resolver: deps.resolver, ...(deps.ca ? { ca: deps.ca } : {}) });
  return {
    adapter: withRegisteredClients(deps.adapter, registered, settings.registration.openClientUnusedSeconds * 1000),
    registered,
    tokens: new InitialAccessTokens(deps.store, deps.now),
    features: { settings, guardedFetch: fetch, registrationScopes: settings.registration.scopes },
    scopes: [...new Set([...settings.registration.scopes, ...resourceScopes(settings.resourceServers)])],
    verifyStatement: softwareStatementVerifier(settings.registration.softwareStatementKeys, deps.now),
    close: () => fetch.close(),
  };
}
