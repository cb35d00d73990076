// Single use of codes and refresh tokens at the token endpoint: the consume is the request's last write, atomic in the store.
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { deferConsumes, takeDeferred, type DeferredConsume } from '../store/oidc-adapter.js';
import type { KeyValueStore, WriteOp } from '../store/store.js';
import { StoreUnavailableError } from '../store/store.js';

/**
 * oidc-provider checks a code's or refresh token's `consumed` and marks it before it saves the tokens it issues.
 * Around its token endpoint this middleware holds the mark back (deferConsumes) and makes it, as one atomic claim in the
 * store, once the response is ready:
 * - won: the response goes out as it is;
 * - lost (a concurrent request consumed it first, or it was revoked meanwhile): reuse. The grant is revoked, the
 *   winner's tokens with it (RFC 6749 sections 4.1.2 and 10.4), and the answer becomes 400 invalid_grant;
 * - the store fails: the claim may have landed before the store went silent, so the request waits for the store (up to
 *   `store.lostClaimWaitMs`) and reads back whose claim is there (store/claim-once.ts): its own is a win, and the
 *   response goes out after all. A store silent for longer: 503 temporarily_unavailable. The code or refresh token is
 *   then still unconsumed unless the lost claim landed, in which case a retry counts as reuse (the only case where an
 *   outage can cost a sign-in). The tokens the failed request saved were never handed out; they die with the grant.
 * A request that failed with 5xx on its own claims nothing, for the same reason. A sequential replay never gets here:
 * oidc-provider sees `consumed` first, revokes the grant and answers invalid_grant itself.
 * The access and refresh tokens the request saves are held back as well and written in one batch just before the
 * claims (one store round trip instead of one per token); a store failure there answers 503 and claims nothing.
 */
export function singleUse(provider: Provider, store: KeyValueStore): Middleware {
  const tokenPath = provider.pathFor('token');
  return async (koaCtx, next) => {
    if (koaCtx.method !== 'POST' || koaCtx.path !== tokenPath) return next();
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    deferConsumes(ctx, { saves: true });
    let deferredWrites: { saves: WriteOp[]; consumes: DeferredConsume[] };
    try {
      await next();
    } finally {
      deferredWrites = takeDeferred(ctx);
    }
    const { saves, consumes } = deferredWrites;
    // A failed request hands no token out: what it would have saved is dropped, and it claims nothing.
    if (ctx.status >= 500) return;
    const grantId = ctx.oidc.entities.Grant?.jti;
    try {
      // Tokens of a refused request (4xx) are never handed out: they are not written either.
      if (saves.length > 0 && ctx.status < 400) await store.batch(saves);
      for (const consume of consumes) await consume.settle(grantId);
    } catch (error) {
      if (error instanceof errors.InvalidGrant) {
        if (grantId) provider.emit('grant.revoked', ctx, grantId);
        refuse(ctx, provider, error);
      } else if (error instanceof StoreUnavailableError) {
        refuse(ctx, provider, error);
      } else {
        throw error;
      }
    }
  };
}

/** Replaces the token response with the error, as oidc-provider's own error handler answers (RFC 6749 section 5.2). */
function refuse(ctx: KoaContextWithOIDC, provider: Provider, error: errors.OIDCProviderError | StoreUnavailableError): void {
  ctx.status = error.statusCode;
  ctx.set('cache-control', 'no-store');
  ctx.body = { error: error.message, error_description: error.error_description };
  provider.emit('grant.error', ctx, error);
}
