// A receiver-supplied push endpoint is a request the broker makes on someone else's behalf: https only, public addresses only (unless configured), pinned at connect time, time and size limits.
import { BlockList, isIP } from 'node:net';
import { promises as dns } from 'node:dns';
import type { Agent } from 'undici';
import { undiciLibrary } from '../undici-library.js';

export interface EndpointRules {
  allowHttp: boolean;
  allowPrivate: boolean;
}

/** Resolves a host name to its addresses (injectable: tests map names to 127.0.0.1); the shape of AppDeps.outboundResolver. */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

// Private, loopback, link-local, shared, multicast, reserved and unspecified ranges (RFC 6890 special-purpose registries).
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) NON_PUBLIC.addSubnet(net, prefix, 'ipv6');

/** Whether an address is private, loopback, link-local or otherwise not on the public Internet (IPv4-mapped IPv6 included). */
export function isNonPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return NON_PUBLIC.check(mapped, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why an endpoint URL is refused before any request (undefined: acceptable). */
export function endpointProblem(value: unknown, rules: EndpointRules): string | undefined {
  if (typeof value !== 'string' || value.length > 2048 || !URL.canParse(value)) return 'endpoint_url must be an absolute URL of at most 2048 characters';
  const url = new URL(value);
  if (url.protocol !== 'https:' && !(rules.allowHttp && url.protocol === 'http:')) return 'endpoint_url must use https';
  if (url.username || url.password) return 'endpoint_url must not carry credentials';
  if (url.hash) return 'endpoint_url must not have a fragment';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !rules.allowPrivate && isNonPublicAddress(host)) return 'endpoint_url points to a private, loopback or link-local address';
  return undefined;
}

export class EndpointRefused extends Error {
  override readonly name = 'EndpointRefused';
}

export interface PushResult {
  status: number;
}

export interface PushClientOptions extends EndpointRules {
  resolver?: Resolver;
  timeoutMs: number;
  maxResponseBytes: number;
}

/**
 * POSTs a body to a receiver's endpoint. The host is resolved once and the connection made to the address that was
 * checked (no second lookup a DNS rebinding could answer differently); redirects are not followed; the answer is read
 * up to the size limit and the whole exchange bounded by the timeout.
 */
export function createPushClient(options: PushClientOptions) {
  const resolver = options.resolver ?? systemResolver;
  type LookupCallback = (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void;
  const lookup = (hostname: string, lookupOptions: { all?: boolean }, callback: LookupCallback) => {
    resolver(hostname)
      .then((addresses) => {
        // One non-public answer refuses the host: a name that mixes them is not a receiver's public endpoint.
        if (addresses.length === 0) throw new EndpointRefused(`${hostname} has no address`);
        if (!options.allowPrivate && addresses.some((entry) => isNonPublicAddress(entry.address))) throw new EndpointRefused(`${hostname} resolves to a private, loopback or link-local address`);
        const first = addresses[0]!.address;
        if (lookupOptions.all) callback(null, [{ address: first, family: isIP(first) }]);
        else callback(null, first, isIP(first));
      })
      .catch((error: Error) => callback(error, ''));
  };
  let agent: Agent | undefined;

  return {
    async post(url: string, body: string, headers: Record<string, string>): Promise<PushResult> {
      const problem = endpointProblem(url, options);
      if (problem) throw new EndpointRefused(problem);
      const undici = await undiciLibrary();
      agent ??= new undici.Agent({ connect: { lookup: lookup as never, timeout: options.timeoutMs }, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs });
      const response = await undici.fetch(url, { method: 'POST', body, headers, redirect: 'manual', dispatcher: agent, signal: AbortSignal.timeout(options.timeoutMs) });
      // Read at most the limit, then drop the rest.
      let read = 0;
      const reader = response.body?.getReader();
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        read += value.byteLength;
        if (read > options.maxResponseBytes) {
          await reader.cancel();
          break;
        }
      }
      return { status: response.status };
    },
    close: async () => agent?.close(),
  };
}

export type PushClient = ReturnType<typeof createPushClient>;
