// Security headers on every response, with a fresh CSP nonce per request for the page's style and script.
import { randomFillSync } from 'node:crypto';
import type { Middleware } from 'koa';

// Nonces come from a pooled CSPRNG buffer refilled every 256 requests, not one getrandom syscall per request.
const NONCE_BYTES = 16;
const pool = Buffer.alloc(NONCE_BYTES * 256);
let offset = pool.length;

function newNonce(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const nonce = pool.toString('base64', offset, offset + NONCE_BYTES);
  offset += NONCE_BYTES;
  return nonce;
}

export function securityHeaders(options: { https: boolean }): Middleware {
  return async (ctx, next) => {
    const nonce = newNonce();
    ctx.state.nonce = nonce;
    // Set before the route runs: oidc-provider adds the hash of its own inline scripts (form_post) to this policy.
    ctx.set(
      'Content-Security-Policy',
      `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'`,
    );
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    if (options.https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
  };
}
