// The outbound fetch of Client ID Metadata Documents (and any GET oidc-provider makes): https only, the resolved address checked and then connected to, no redirects, time-limited.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import type { Agent } from 'undici';
import { undiciLibrary } from '../undici-library.js';
import { addressClass, type AddressClass } from './address-class.js';

/** Resolves a host name to its addresses (tests inject one that maps their names to 127.0.0.1). */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface GuardedFetchOptions {
  /** Address classes allowed besides public ones (configuration: clientIdMetadataDocument.allowedAddresses). */
  allowed: readonly AddressClass[];
  timeoutMs: number;
  resolver?: Resolver;
  /** Extra trusted CA certificates (PEM), for tests that serve documents over https on loopback. */
  ca?: string | string[];
}

export class FetchRefused extends Error {
  override readonly name = 'FetchRefused';
  readonly code = 'fetch_refused';
}

function assertAllowed(address: string, allowed: ReadonlySet<AddressClass>): void {
  const kind = addressClass(address);
  if (kind === undefined || (kind !== 'public' && !allowed.has(kind))) throw new FetchRefused(`refused to connect to a ${kind ?? 'malformed'} address`);
}

/** A net/tls lookup that resolves with the resolver and refuses the whole host when any address is not allowed. */
function guardedLookup(resolver: Resolver, allowed: ReadonlySet<AddressClass>): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (error: Error | null, address: unknown, family?: number) => void) => {
    resolver(hostname).then(
      (addresses) => {
        if (addresses.length === 0) throw new FetchRefused('the host has no address');
        for (const { address } of addresses) assertAllowed(address, allowed);
        if (options?.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
    ).catch((error: Error) => callback(error, undefined));
  }) as LookupFunction;
}

export type ProviderFetch = (url: URL | string, options: RequestInit & { dispatcher?: unknown }) => Promise<Response>;

/**
 * The guarded fetch: the URL must be https; an IP-literal host is checked as it is, a name is resolved once and the
 * connection goes to the checked address (no second resolution to rebind); redirects are never followed.
 */
export function guardedFetch(options: GuardedFetchOptions): ProviderFetch & { close(): Promise<void> } {
  const allowed = new Set(options.allowed);
  let agent: Agent | undefined;
  const fetchGuarded = async (input: URL | string, init: RequestInit & { dispatcher?: unknown }) => {
    const url = new URL(input);
    if (url.protocol !== 'https:') throw new FetchRefused('only https URLs are fetched');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) assertAllowed(host, allowed);
    const { dispatcher: _providerGuard, signal: _providerTimeout, ...rest } = init;
    const undici = await undiciLibrary();
    agent ??= new undici.Agent({
    connect: { lookup: guardedLookup(options.resolver ?? systemResolver, allowed), ...(options.ca ? { ca: options.ca } : {}), timeout: options.timeoutMs },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    maxRedirections: 0,
  } as ConstructorParameters<typeof undici.Agent>[0]);;
    const response = await undici.fetch(url, { ...(rest as object), redirect: 'manual', dispatcher: agent, signal: AbortSignal.timeout(options.timeoutMs) });
    return response as unknown as Response;
  };
  return Object.assign(fetchGuarded, { close: async () => agent?.close() });
}
