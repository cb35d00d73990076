// Discovery, JWKS and /healthz answered first, without the page middleware: the documents are kept after their first answer (fixed for the life of an app; a reload builds a new one).
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Middleware } from 'koa';

/** A ready-to-write answer: header name/value pairs (flat, as writeHead takes them) and the body bytes. */
interface Cached {
  headers: readonly string[];
  body: Buffer;
  /** Public documents are readable from any origin (CORS), as oidc-provider answers them. */
  cors: boolean;
}

/** Response headers that belong to one request and are never replayed from the cache. */
const PER_REQUEST = new Set(['x-request-id', 'date', 'content-security-policy', 'content-length', 'vary', 'access-control-allow-origin']);

function cached(headers: Record<string, string>, body: string, cors: boolean): Cached {
  const bytes = Buffer.from(body, 'utf8');
  const flat = Object.entries(headers).flat();
  flat.push('content-length', String(bytes.length));
  return { headers: flat, body: bytes, cors };
}

const HEALTHY = cached({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }, JSON.stringify({ status: 'ok' }), false);

/** Writes the cached answer straight to the socket: no per-request header objects, no body serialisation. */
function write(res: ServerResponse, hit: Cached, origin: string | undefined): void {
  const headers = [...hit.headers, 'x-request-id', randomUUID()];
  if (hit.cors) headers.push('vary', 'Origin', 'access-control-allow-origin', origin || '*');
  res.writeHead(200, headers);
  res.end(hit.body);
}

export function createStaticCache(paths: readonly string[]): { serve: Middleware; capture: Middleware } {
  const cache = new Map<string, Cached>([['/healthz', HEALTHY]]);
  const cacheable = new Set(paths);
  return {
    /** Mounted first: answers /healthz and cache hits before any other middleware runs. */
    serve: async (ctx, next) => {
      // The raw request target: a query string (or any other spelling of the path) is not a cache hit.
      const hit = ctx.method === 'GET' ? cache.get(ctx.req.url ?? '') : undefined;
      if (!hit) return next();
      ctx.respond = false;
      write(ctx.res, hit, ctx.req.headers.origin);
    },
    /** Mounted where oidc-provider answers: keeps the first 200 answer of each cacheable path. */
    capture: async (ctx, next) => {
      await next();
      if (ctx.method !== 'GET' || ctx.querystring || !cacheable.has(ctx.path) || ctx.status !== 200 || cache.has(ctx.path)) return;
      const body = typeof ctx.body === 'string' ? ctx.body : JSON.stringify(ctx.body);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(ctx.response.headers)) {
        if (!PER_REQUEST.has(name) && typeof value === 'string') headers[name] = value;
      }
      cache.set(ctx.path, cached(headers, body, true));
    },
  };
}
