// Serves discovery and JWKS from memory after the first answer: both are fixed for the life of an app (a reload builds a new one).
import type { Middleware } from 'koa';

interface Cached {
  headers: Record<string, string>;
  body: string;
}

/** Response headers that belong to one request and are never replayed from the cache. */
const PER_REQUEST = new Set(['x-request-id', 'date', 'content-security-policy', 'content-length', 'vary', 'access-control-allow-origin']);

export function cacheStaticResponses(paths: readonly string[]): Middleware {
  const cache = new Map<string, Cached>();
  const cacheable = new Set(paths);
  return async (ctx, next) => {
    if (ctx.method !== 'GET' || !cacheable.has(ctx.path) || ctx.querystring) return next();
    const hit = cache.get(ctx.path);
    if (hit) {
      ctx.set(hit.headers);
      // Public documents: any origin may read them, answered exactly as oidc-provider's CORS middleware does.
      ctx.vary('Origin');
      ctx.set('Access-Control-Allow-Origin', ctx.get('origin') || '*');
      ctx.body = hit.body;
      return;
    }
    await next();
    if (ctx.status !== 200) return;
    const body = typeof ctx.body === 'string' ? ctx.body : JSON.stringify(ctx.body);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(ctx.response.headers)) {
      if (!PER_REQUEST.has(name) && typeof value === 'string') headers[name] = value;
    }
    cache.set(ctx.path, { headers, body });
  };
}
