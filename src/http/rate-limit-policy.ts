// Which rate-limit budgets a request spends: the limited routes, their default token buckets, per-client overrides, and the bucket keys.
import { isIP } from 'node:net';
import { z } from 'zod';

/** The routes a rate limit guards (what the `rateLimits.routes` setting names). */
export const RATE_LIMITED_ROUTES = ['authorization', 'interaction', 'callback', 'token', 'introspection', 'registration'] as const;
export type RateLimitedRoute = (typeof RATE_LIMITED_ROUTES)[number];

/** Routes whose requests authenticate a client: only there does a client budget apply (see clientOf in rate-limit-client.ts). */
export const CLIENT_AUTHENTICATED_ROUTES: ReadonlySet<RateLimitedRoute> = new Set(['token', 'introspection']);

const bucketSchema = z.strictObject({
  burst: z.number().int().min(1).max(1_000_000).describe('Bucket capacity: requests allowed at once.'),
  perSecond: z.number().positive().max(1_000_000).describe('Refill rate: sustained requests per second.'),
});
export type Bucket = z.output<typeof bucketSchema>;

const budget = (fallback: Bucket | false) => z.union([bucketSchema, z.literal(false)]).default(fallback);

/**
 * Defaults. Per IP: generous, as an office signs in from behind one NAT address (a sign-in is about one /auth, two
 * interaction posts and one callback; 100 people arriving at once fit the burst). Per client: the seed design's
 * 10 requests/s, on the routes where the client authenticates, with a burst of 50 so a morning rush of code exchanges
 * (5 s at twice the rate) is not refused.
 */
const routeSchema = (perIp: Bucket | false, perClient: Bucket | false) =>
  z.strictObject({ perIp: budget(perIp), perClient: budget(perClient) }).prefault({});
const BROWSER_IP: Bucket = { burst: 100, perSecond: 20 };
const API_IP: Bucket = { burst: 200, perSecond: 50 };
const CLIENT: Bucket = { burst: 50, perSecond: 10 };

export const rateLimitsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Answer 429 once a budget is spent (false: no limits).'),
    routes: z
      .strictObject({
        authorization: routeSchema(BROWSER_IP, false).describe('/auth (GET and POST).'),
        interaction: routeSchema(BROWSER_IP, false).describe('POST /interaction/… (choose, login, consent, step-up) and POST /account/… (the account security page).'),
        callback: routeSchema(BROWSER_IP, false).describe('/callback/… of every upstream, the SAML ACS included.'),
        token: routeSchema(API_IP, CLIENT).describe('POST /token.'),
        introspection: routeSchema(API_IP, CLIENT).describe('POST /token/introspection.'),
        registration: routeSchema({ burst: 10, perSecond: 1 }, false).describe('/reg (dynamic client registration, when enabled).'),
      })
      .prefault({}),
    clients: z
      .record(z.string().min(1), z.partialRecord(z.enum(RATE_LIMITED_ROUTES), bucketSchema))
      .default({})
      .describe('Per-client budgets replacing the route\'s perClient one: { "<clientId>": { "token": { "burst": 50, "perSecond": 25 } } }.'),
  })
  .prefault({});
export type RateLimits = z.output<typeof rateLimitsSchema>;

/** The limited route a request belongs to, or undefined (most requests: discovery, JWKS, pages, probes). */
export function routeOf(method: string, path: string): RateLimitedRoute | undefined {
  if (path === '/auth' || path.startsWith('/auth/')) return 'authorization';
  if (path.startsWith('/callback/')) return 'callback';
  if (method !== 'POST') return path === '/reg' || path.startsWith('/reg/') ? 'registration' : undefined;
  if (path === '/token') return 'token';
  if (path === '/token/introspection') return 'introspection';
  if (path.startsWith('/interaction/') || path.startsWith('/account/')) return 'interaction';
  if (path === '/reg' || path.startsWith('/reg/')) return 'registration';
  return undefined;
}

/** The client's budget on a route: its own override, else the route's perClient. */
export function clientBucket(limits: RateLimits, route: RateLimitedRoute, clientId: string): Bucket | false {
  return limits.clients[clientId]?.[route] ?? limits.routes[route].perClient;
}

/** Expands an IPv6 address to its eight groups. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array.from({ length: missing }, () => '0'), ...right];
}

/** The per-IP budget's key: an IPv4 address, or an IPv6 /64 (one host usually holds a whole /64). */
export function ipKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  return `${ipv6Groups(address.toLowerCase().split('%')[0]!).slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
