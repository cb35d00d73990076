// Builds the oidc-provider instance: clients, keys, scopes and claims, lifetimes, features and the broker's hooks.
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { JWK } from 'jose';
import type { BrokerConfig } from '../config/load.js';
import type { Renderer } from '../http/views.js';
import type { AccountLocks } from '../session/account-locks.js';
import type { SessionRepository } from '../session/federated-session.js';
import type { GrantBindings } from '../session/grant-bindings.js';
import type { OidcAdapterClass } from '../store/oidc-adapter.js';
import { createFindAccount, SCOPE_CLAIMS, type Reverify } from './accounts.js';
import { providerFetch } from './backchannel-logout.js';
import { clientMetadata } from './clients.js';
import { createBoundLoadExistingGrant } from './grants.js';
import { ACR_PASSWORD, ACR_VALUES } from '../mfa/assurance.js';
import { withBrowserSession } from './account-state.js';
import { createInteractionPolicy, type JudgeAuthorization, type SessionUsable } from './interaction-policy.js';
import { providerPages } from './pages.js';
import { createTokenPolicies } from './token-policy.js';
import { withClientFeatures, type ClientFeatures } from './client-features.js';

export { ACR_PASSWORD };

export interface IssuerDeps {
  config: BrokerConfig;
  /** The oidc-provider Adapter on the broker's store (terminate() revokes grants through the same one). */
  adapter: OidcAdapterClass;
  keys: JWK[];
  sessions: SessionRepository;
  bindings: GrantBindings;
  locks: AccountLocks;
  renderer: Renderer;
  now: () => number;
  /** Confirms sessions with their upstreams; returns how many are still live. */
  reverify: Reverify;
  /** Whether a client may use an upstream provider (its allowedProviders). */
  providersAllowed: (clientId: string, connectorId: string) => boolean;
  /** Client registration, metadata documents, resource indicators, PAR, DPoP, device flow (client-features.ts). */
  clientFeatures?: ClientFeatures;
  /** Access policy, risk and step-up for an authorization on a live session (the access and mfa prompts); default: allow. */
  judgeAuthorization?: JudgeAuthorization;
  /** Whether an authorization may reuse the browser's federated session (an overdue one is re-verified first). */
  sessionUsable?: SessionUsable;
}

/** oidc-provider lifetimes (seconds) from the `tokens` settings; a grant lives as long as its refresh tokens. */
export function providerTtl(tokens: BrokerConfig['tokens']) {
  return {
    AccessToken: tokens.accessTokenTtl,
    AuthorizationCode: tokens.authorizationCodeTtl,
    IdToken: tokens.idTokenTtl,
    RefreshToken: tokens.refreshTokenTtl,
    Grant: tokens.refreshTokenTtl,
    Session: tokens.sessionTtl,
    Interaction: tokens.interactionTtl,
  };
}

/** First-party clients (skipConsent) get their grant without a consent page (the bench's bare peer; the broker binds grants to sessions, see grants.ts). */
export function createLoadExistingGrant(skipConsent: ReadonlySet<string>) {
  return async function loadExistingGrant(ctx: KoaContextWithOIDC) {
    const { client, session, provider } = ctx.oidc;
    if (!client || !session) return undefined;
    const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
    if (grantId) return provider.Grant.find(grantId);
    if (!skipConsent.has(client.clientId) || !session.accountId) return undefined;
    const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope(client.scope ?? 'openid');
    grant.addOIDCClaims(['sub']);
    await grant.save();
    return grant;
  };
}

/**
 * The protocol settings of the issuer: cookies, claims, scopes, PKCE, rotation, algorithms, lifetimes and features.
 * The benchmark's bare oidc-provider peer is built from the same function, so it stays configured alike.
 */
export function protocolSettings(tokens: BrokerConfig['tokens'], cookieKeys: string[]) {
  return {
    cookies: {
      keys: cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    claims: { sid: null, ...SCOPE_CLAIMS } as unknown as Configuration['claims'],
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    conformIdTokenClaims: false,
    acrValues: [...ACR_VALUES],
    responseTypes: ['code'],
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    rotateRefreshToken: true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    enabledJWA: { idTokenSigningAlgValues: ['ES256', 'RS256'], userinfoSigningAlgValues: ['ES256', 'RS256'] } as Configuration['enabledJWA'],
    ttl: providerTtl(tokens),
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      claimsParameter: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
  } satisfies Configuration;
}

export function createIssuer(deps: IssuerDeps): Provider {
  const { config, adapter, keys, sessions, bindings, renderer, now, reverify } = deps;
  const pages = providerPages(renderer);
  const skipConsent = new Set(config.clients.filter((c) => c.skipConsent).map((c) => c.clientId));
  const settings = protocolSettings(config.tokens, config.cookieKeys);
  const tokenPolicies = createTokenPolicies({ clients: config.clients, sessions, bindings, now });
  const configuration: Configuration = {
    ...settings,
    adapter,
    clients: config.clients.map(clientMetadata) as unknown as Configuration['clients'],
    jwks: { keys } as Configuration['jwks'],
    findAccount: withBrowserSession(createFindAccount({ sessions, bindings, locks: deps.locks, now, reverify }), sessions) as Configuration['findAccount'],
    extraParams: ['idp_hint'],
    loadExistingGrant: createBoundLoadExistingGrant(skipConsent, bindings),
    interactions: { ...settings.interactions, policy: createInteractionPolicy(deps.providersAllowed, deps.judgeAuthorization, deps.sessionUsable) },
    renderError: pages.renderError as Configuration['renderError'],
    features: {
      ...settings.features,
      introspection: { enabled: true, allowedPolicy: tokenPolicies.introspectionAllowed as never },
      revocation: { enabled: true, allowedPolicy: tokenPolicies.revocationAllowed as never },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: pages.logoutSource as never,
        postLogoutSuccessSource: pages.postLogoutSuccessSource as never,
      },
      // Logout tokens for clients with a backchannel_logout_uri: sent by end_session itself, and by terminate() (backchannel-logout.ts).
      backchannelLogout: { enabled: true },
    },
    fetch: providerFetch(config.clients.flatMap((client) => (client.backchannelLogoutUri ? [client.backchannelLogoutUri] : []))) as Configuration['fetch'],
    clientBasedCORS(_ctx, origin, client) {
      if (origin === 'null') return false;
      return client.redirectUris?.some((uri) => URL.canParse(uri) && new URL(uri).origin === origin) ?? false;
    },
  };
  const provider = new Provider(config.issuer, withClientFeatures(configuration, deps.clientFeatures));
  provider.proxy = config.trustProxy !== false;
  return provider;
}
