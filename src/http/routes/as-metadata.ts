// RFC 8414 authorization server metadata at /.well-known/oauth-authorization-server: the same document as OIDC discovery, so the two never disagree.
import type { Middleware } from 'koa';

export const AS_METADATA_PATH = '/.well-known/oauth-authorization-server';

/** Answers RFC 8414 requests with oidc-provider's discovery document (the issuer has no path, so no suffix, RFC 8414 §3.1). */
export function authorizationServerMetadata(discoveryPath = '/.well-known/openid-configuration'): Middleware {
  return async (ctx, next) => {
    if (ctx.path === AS_METADATA_PATH && (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'OPTIONS')) ctx.path = discoveryPath;
    await next();
  };
}
