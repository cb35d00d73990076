// Token-bucket rate limits per IP and per authenticated client on the sign-in and token routes: 429 with Retry-After and the IETF RateLimit fields.
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { StoreUnavailableError, type KeyValueStore, type TokenTake } from '../store/store.js';
import { sendError } from './errors.js';
import { authenticatedClient, type ClientSecrets } from './rate-limit-client.js';
import { clientBucket, CLIENT_AUTHENTICATED_ROUTES, ipKey, routeOf, type Bucket, type RateLimitedRoute, type RateLimits } from './rate-limit-policy.js';
import { BucketShares } from './rate-limit-share.js';
import type { Renderer } from './views.js';

export interface RateLimitDeps {
  limits: RateLimits;
  store: KeyValueStore;
  secrets: ClientSecrets;
  renderer: Renderer;
  now: () => number;
  /** Called once per refused request (metrics). */
  onRefused?: (route: RateLimitedRoute, scope: 'ip' | 'client') => void;
}

/** Routes answered to programs (JSON), not to browsers (the error page). */
const API_ROUTES: ReadonlySet<RateLimitedRoute> = new Set(['token', 'introspection', 'registration']);

interface Spent {
  name: string;
  bucket: Bucket;
  take: TokenTake;
}

/** draft-ietf-httpapi-ratelimit-headers: the policy as quota q over window w (seconds to refill the whole burst). */
const policyItem = ({ name, bucket }: Spent) => `"${name}";q=${bucket.burst};w=${Math.max(1, Math.ceil(bucket.burst / bucket.perSecond))}`;
const stateItem = ({ name, take }: Spent) => `"${name}";r=${take.remaining};t=${Math.ceil(take.resetMs / 1000)}`;

function setFields(ctx: Context, spent: Spent[]): void {
  ctx.set('RateLimit-Policy', spent.map(policyItem).join(', '));
  ctx.set('RateLimit', spent.map(stateItem).join(', '));
}

export function rateLimit(deps: RateLimitDeps): Middleware {
  const { limits } = deps;
  const shares = new BucketShares(deps.store, deps.now);
  /**
   * One take, or undefined when the store is down: the limit is then not applied, and the request meets the outage
   * where it needs state (oidc-provider's JSON 503 at /token, the 503 page elsewhere), as it would without limits.
   */
  const take = async (ctx: Context, key: string, bucket: Bucket): Promise<TokenTake | undefined> => {
    try {
      return await shares.take(key, bucket);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      (ctx.state.log as Logger | undefined)?.warn({ code: 'store_unavailable' }, 'rate limit not applied: the store is unavailable');
      return undefined;
    }
  };

  const refuse = (ctx: Context, route: RateLimitedRoute, scope: 'ip' | 'client', spent: Spent[], refused: Spent) => {
    deps.onRefused?.(route, scope);
    setFields(ctx, spent);
    ctx.set('Retry-After', String(Math.max(1, Math.ceil(refused.take.retryAfterMs / 1000))));
    const detail = `${scope} budget of ${route} spent (${refused.bucket.burst} at ${refused.bucket.perSecond}/s)`;
    (ctx.state.log as Logger | undefined)?.warn({ code: 'rate_limited', route, scope, retryAfterMs: refused.take.retryAfterMs }, 'request refused: rate limit');
    if (API_ROUTES.has(route)) {
      ctx.status = 429;
      ctx.body = { error: 'rate_limited', error_description: deps.renderer.errorMessage(ctx, 'rate_limited') };
    } else sendError(ctx, deps.renderer, { status: 429, code: 'rate_limited', messageKey: 'rate_limited', detail });
  };

  return async (ctx, next) => {
    if (!limits.enabled) return next();
    const route = routeOf(ctx.method, ctx.path);
    if (!route) return next();
    const spent: Spent[] = [];
    const perIp = limits.routes[route].perIp;
    const ipTake = perIp ? await take(ctx, `rl:${route}:ip:${ipKey(ctx.ip)}`, perIp) : undefined;
    if (perIp && ipTake) {
      const ip = { name: `${route}-ip`, bucket: perIp, take: ipTake };
      spent.push(ip);
      if (!ip.take.allowed) return refuse(ctx, route, 'ip', spent, ip);
    }
    if (CLIENT_AUTHENTICATED_ROUTES.has(route)) {
      const clientId = await authenticatedClient(ctx, deps.secrets);
      const bucket = clientId === undefined ? false : clientBucket(limits, route, clientId);
      const clientTake = bucket ? await take(ctx, `rl:${route}:client:${clientId}`, bucket) : undefined;
      if (bucket && clientTake) {
        const client = { name: `${route}-client`, bucket, take: clientTake };
        spent.push(client);
        if (!client.take.allowed) return refuse(ctx, route, 'client', spent, client);
      }
    }
    if (spent.length > 0) setFields(ctx, spent);
    return next();
  };
}
