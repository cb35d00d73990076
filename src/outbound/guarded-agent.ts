// Outbound requests made on someone else's behalf (metadata documents, SSF push endpoints): the host resolved once, every address checked, the connection made to the checked address, no redirects, time-limited.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import type { Agent } from 'undici';
import { undiciLibrary } from '../undici-library.js';
import { addressClass, type AddressClass } from './address-class.js';

/** Resolves a host name to its addresses (tests inject one that maps their names to 127.0.0.1); the shape of AppDeps.outboundResolver. */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Every class that is not the public Internet (an operator may allow them, e.g. for receivers inside the cluster). */
export const NON_PUBLIC_CLASSES: readonly AddressClass[] = ['loopback', 'private', 'link-local', 'reserved'];

export class OutboundRefused extends Error {
  override readonly name = 'OutboundRefused';
  readonly code = 'outbound_refused';
}

/** Whether an address is private, loopback, link-local or otherwise not on the public Internet (IPv4-mapped IPv6 included; not an IP: true). */
export function isNonPublicAddress(address: string): boolean {
  return addressClass(address) !== 'public';
}

/** Refuses an address outside the public Internet unless its class is allowed. */
export function assertAddressAllowed(address: string, allowed: ReadonlySet<AddressClass>): void {
  const kind = addressClass(address);
  if (kind === undefined || (kind !== 'public' && !allowed.has(kind))) throw new OutboundRefused(`refused to connect to a ${kind ?? 'malformed'} address`);
}

/** A net/tls lookup that resolves once and refuses the whole host when any of its addresses is not allowed (a name mixing them is not someone's public endpoint). */
function guardedLookup(resolver: Resolver, allowed: ReadonlySet<AddressClass>): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (error: Error | null, address: unknown, family?: number) => void) => {
    resolver(hostname)
      .then((addresses) => {
        if (addresses.length === 0) throw new OutboundRefused(`${hostname} has no address`);
        for (const { address } of addresses) assertAddressAllowed(address, allowed);
        const first = addresses[0]!.address;
        if (options?.all) callback(null, [{ address: first, family: isIP(first) }]);
        else callback(null, first, isIP(first));
      })
      .catch((error: Error) => callback(error, undefined));
  }) as LookupFunction;
}

export interface GuardedAgentOptions {
  /** Address classes allowed besides public ones. */
  allowed: readonly AddressClass[];
  timeoutMs: number;
  resolver?: Resolver;
  /** Extra trusted CA certificates (PEM), for tests that serve over https on loopback. */
  ca?: string | string[];
}

/** An undici Agent whose connections go only to checked addresses, with connect, header and body time limits, following no redirect. */
export async function guardedAgent(options: GuardedAgentOptions): Promise<Agent> {
  const undici = await undiciLibrary();
  return new undici.Agent({
    connect: { lookup: guardedLookup(options.resolver ?? systemResolver, new Set(options.allowed)), ...(options.ca ? { ca: options.ca } : {}), timeout: options.timeoutMs },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    maxRedirections: 0,
  } as ConstructorParameters<typeof undici.Agent>[0]);
}
