// Resource indicators (RFC 8707): the configured resource servers, and the audience-restricted JWT access tokens (RFC 9068) oidc-provider issues for them.
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ResourceServerConfig } from './config.js';

/** oidc-provider's features.resourceIndicators for the configured resource servers; an unknown resource is invalid_target. */
export function resourceIndicatorsFeature(servers: readonly ResourceServerConfig[]) {
  const byIdentifier = new Map(servers.map((server) => [server.identifier, server]));
  return {
    enabled: true,
    // No resource asked for: an opaque token for userinfo, as before.
    defaultResource: (_ctx: KoaContextWithOIDC, _client: unknown, oneOf?: string[]) => oneOf?.[0],
    // The token request may repeat the resource of the authorization (MCP clients send it on both).
    useGrantedResource: () => true,
    getResourceServerInfo(_ctx: KoaContextWithOIDC, resourceIndicator: string) {
      const server = byIdentifier.get(resourceIndicator);
      if (!server) throw new errors.InvalidTarget(`unknown resource ${JSON.stringify(resourceIndicator.slice(0, 200))}`);
      return {
        scope: server.scopes.join(' '),
        audience: server.identifier,
        accessTokenTTL: server.accessTokenTtl,
        accessTokenFormat: 'jwt' as const,
        jwt: { sign: { alg: 'ES256' } },
      };
    },
  };
}

