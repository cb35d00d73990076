// The client's IP address, computed once per request: X-Forwarded-For is walked from the right and believed only as far as trusted proxies wrote it.
import { BlockList } from 'node:net';
import type { Context, Middleware } from 'koa';
import { parseCidr, type TrustProxy } from '../config/trust-proxy.js';

/** Which peers are trusted proxies, compiled once from the trustProxy setting. */
export interface ProxyTrust {
  /** Number of trusted hops (hop-count mode), or undefined in list mode. */
  readonly hops: number | undefined;
  /** True when `address` (normalized) is a proxy whose forwarded headers are believed. */
  trusts(address: string): boolean;
}

export function proxyTrust(setting: TrustProxy): ProxyTrust {
  if (setting === false) return { hops: 0, trusts: () => false };
  if (typeof setting === 'number') return { hops: setting, trusts: () => true };
  const list = new BlockList();
  for (const entry of setting) {
    const cidr = parseCidr(entry);
    if (!cidr) throw new TypeError(`trustProxy: "${entry}" is not an IP address or CIDR`);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return { hops: undefined, trusts: (address) => address !== '' && list.check(address, address.includes(':') ? 'ipv6' : 'ipv4') };
}

const MAPPED_IPV4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * One address in canonical form ("192.0.2.1", "2001:db8::1"): IPv4-mapped IPv6 becomes IPv4, IPv6 is lower-case and
 * compressed, brackets and a port are dropped ("[2001:db8::1]:443", "192.0.2.1:8080"). Undefined when it is not an
 * IP address (garbage, "unknown", an obfuscated RFC 7239 identifier, an IPv6 zone).
 */
export function normalizeIp(text: string): string | undefined {
  let value = text.trim();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end === -1 || !/^(:\d{1,5})?$/.test(value.slice(end + 1))) return undefined;
    value = value.slice(1, end);
  } else if (/^[\d.]+:\d{1,5}$/.test(value)) value = value.slice(0, value.indexOf(':'));
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(value)) return value;
  if (!value.includes(':') || !/^[0-9a-fA-F:.]+$/.test(value)) return undefined;
  let canonical: string;
  try {
    canonical = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = MAPPED_IPV4.exec(canonical);
  if (!mapped) return canonical;
  const high = parseInt(mapped[1]!, 16);
  const low = parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/**
 * The client address of one request. `peer` is the TCP peer (the socket's remote address), `forwardedFor` the
 * X-Forwarded-For header (duplicates joined by commas). Walking from the right: the peer is the nearest proxy; each
 * trusted proxy vouches for the entry it appended, the address it received the request from. The client is the
 * entry appended by the last trusted proxy; anything further left was written by the client and is never used.
 * A malformed entry stops the walk at the last trusted address. Never throws.
 */
export function clientIp(peer: string | undefined, forwardedFor: string | undefined, trust: ProxyTrust): string {
  const start = (peer && normalizeIp(peer)) ?? peer ?? '';
  if (!forwardedFor || trust.hops === 0) return start;
  const entries = forwardedFor.split(',');
  let current = start;
  for (let hop = 1; entries.length > 0; hop++) {
    if (trust.hops !== undefined ? hop > trust.hops : !trust.trusts(current)) break;
    const next = normalizeIp(entries.pop()!);
    if (next === undefined) break;
    current = next;
  }
  return current;
}

/** True when the TCP peer is a trusted proxy (its X-Request-Id and X-Forwarded-* may be believed). */
export function fromTrustedProxy(ctx: Context, trust: ProxyTrust): boolean {
  if (trust.hops !== undefined) return trust.hops > 0;
  const peer = ctx.req.socket?.remoteAddress;
  return peer !== undefined && trust.trusts(normalizeIp(peer) ?? peer);
}

/**
 * Sets `ctx.request.ip` (so `ctx.ip`, the audit log and the per-IP limits) once, before anything reads it. Koa's own
 * `ctx.ip` behind `app.proxy` is the leftmost X-Forwarded-For entry, which the client chooses. When the peer is not a
 * trusted proxy (list mode), X-Forwarded-Proto and X-Forwarded-Host are removed, as Koa would otherwise believe them.
 */
export function clientAddress(trust: ProxyTrust): Middleware {
  return async (ctx, next) => {
    const peer = ctx.req.socket?.remoteAddress;
    if (trust.hops === undefined && !fromTrustedProxy(ctx, trust)) {
      delete ctx.req.headers['x-forwarded-proto'];
      delete ctx.req.headers['x-forwarded-host'];
    }
    const forwarded = ctx.req.headers['x-forwarded-for'];
    ctx.request.ip = clientIp(peer, Array.isArray(forwarded) ? forwarded.join(',') : forwarded, trust);
    await next();
  };
}
