// Which budget a request spends: the limited routes (and the ones never limited), per-client overrides, IPv6 keyed by /64, and the defaults.
import { describe, expect, it } from 'vitest';
import { clientBucket, ipKey, rateLimitsSchema, routeOf } from '../../src/http/rate-limit-policy.js';

describe('routeOf', () => {
  it.each([
    ['GET', '/auth', 'authorization'],
    ['POST', '/auth', 'authorization'],
    ['GET', '/auth/resume-uid', 'authorization'],
    ['POST', '/interaction/uid/login', 'interaction'],
    ['POST', '/interaction/uid/choose', 'interaction'],
    ['POST', '/account/security/verify/totp', 'interaction'],
    ['GET', '/callback/okta', 'callback'],
    ['POST', '/callback/adfs', 'callback'],
    ['POST', '/token', 'token'],
    ['POST', '/token/introspection', 'introspection'],
    ['POST', '/reg', 'registration'],
    ['GET', '/reg/client-id', 'registration'],
  ])('%s %s spends the %s budget', (method, path, route) => {
    expect(routeOf(method, path)).toBe(route);
  });

  it.each([
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/.well-known/openid-configuration'],
    ['GET', '/jwks'],
    ['GET', '/interaction/uid'],
    ['GET', '/token'],
    ['POST', '/token/revocation'],
    ['GET', '/authorize'],
    ['GET', '/logout/callback/okta'],
    ['GET', '/me'],
  ])('%s %s is not limited', (method, path) => {
    expect(routeOf(method, path)).toBeUndefined();
  });
});

describe('ipKey', () => {
  it('keys IPv4 by address, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64', () => {
    expect(ipKey('192.0.2.7')).toBe('192.0.2.7');
    expect(ipKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(ipKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:0db8:0001:0002::9')).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipKey('::1')).toBe('0:0:0:0::/64');
  });
});

describe('rateLimits defaults and overrides', () => {
  it('documents 10/s per client with a burst on the authenticated routes, per-IP budgets elsewhere', () => {
    const limits = rateLimitsSchema.parse({});
    expect(limits.enabled).toBe(true);
    expect(limits.routes.token).toEqual({ perIp: { burst: 200, perSecond: 50 }, perClient: { burst: 50, perSecond: 10 } });
    expect(limits.routes.authorization).toEqual({ perIp: { burst: 100, perSecond: 20 }, perClient: false });
  });

  it('a client override replaces only that client\'s budget on that route; a partial route setting keeps the other default', () => {
    const limits = rateLimitsSchema.parse({ routes: { token: { perIp: false } }, clients: { batch: { token: { burst: 100, perSecond: 50 } } } });
    expect(limits.routes.token.perClient).toEqual({ burst: 50, perSecond: 10 });
    expect(clientBucket(limits, 'token', 'batch')).toEqual({ burst: 100, perSecond: 50 });
    expect(clientBucket(limits, 'introspection', 'batch')).toEqual({ burst: 50, perSecond: 10 });
    expect(clientBucket(limits, 'token', 'other')).toEqual({ burst: 50, perSecond: 10 });
    expect(limits.routes.token.perIp).toBe(false);
  });

  it('refuses buckets that cannot work', () => {
    for (const bad of [{ burst: 0, perSecond: 1 }, { burst: 1, perSecond: 0 }, { burst: 1.5, perSecond: 1 }, { burst: 1, perSecond: 1, extra: 1 }]) {
      expect(rateLimitsSchema.safeParse({ routes: { token: { perClient: bad } } }).success, JSON.stringify(bad)).toBe(false);
    }
    expect(rateLimitsSchema.safeParse({ routes: { unknown: {} } }).success).toBe(false);
    expect(rateLimitsSchema.safeParse({ clients: { c: { nowhere: { burst: 1, perSecond: 1 } } } }).success).toBe(false);
  });
});
