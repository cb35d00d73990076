// Discovery, JWKS and /healthz answered first, without the page middleware: the documents are kept after their first answer (fixed for the life of an app; a reload builds a new one).
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';

interface Cached {
  headers: Record<string, string>;
  body: string;
}

/** Response headers that belong to one request and are never replayed from the cache. */
const PER_REQUEST = new Set(['x-request-id', 'date', 'content-security-policy', 'content-length', 'vary', 'access-control-allow-origin']);
const HEALTHY = JSON.stringify({ status: 'ok' });

export function createStaticCache(paths: readonly string[]): { serve: Middleware; capture: Middleware } {
  const cache = new Map<string, Cached>();
  const cacheable = new Set(paths);
  return {
    /** Mounted first: answers /healthz and cache hits before any other middleware runs. */
    serve: async (ctx, next) => {
      if (ctx.method !== 'GET' || ctx.querystring) return next();
      if (ctx.path !== '/healthz' && !cache.has(ctx.path)) return next();
      ctx.set('X-Request-Id', randomUUID());
      if (ctx.path === '/healthz') {
        ctx.set({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
        ctx.type = 'json';
        ctx.body = HEALTHY;
        return;
      }
      const hit = cache.get(ctx.path)!;
      ctx.set(hit.headers);
      // Public documents: any origin may read them, answered exactly as oidc-provider's CORS middleware does.
      ctx.vary('Origin');
      ctx.set('Access-Control-Allow-Origin', ctx.get('origin') || '*');
      ctx.body = hit.body;
    },
    /** Mounted where oidc-provider answers: keeps the first 200 answer of each cacheable path. */
    capture: async (ctx, next) => {
      await next();
      if (ctx.method !== 'GET' || ctx.querystring || !cacheable.has(ctx.path) || ctx.status !== 200) return;
      const body = typeof ctx.body === 'string' ? ctx.body : JSON.stringify(ctx.body);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(ctx.response.headers)) {
        if (!PER_REQUEST.has(name) && typeof value === 'string') headers[name] = value;
      }
      cache.set(ctx.path, { headers, body });
    },
  };
}
