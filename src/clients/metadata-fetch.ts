// The outbound fetch of Client ID Metadata Documents (and any GET oidc-provider makes): https only, through the outbound guard (checked addresses, no redirects, time-limited).
import { isIP } from 'node:net';
import type { Agent } from 'undici';
import { undiciLibrary } from '../undici-library.js';
import type { AddressClass } from '../outbound/address-class.js';
import { assertAddressAllowed, guardedAgent, OutboundRefused, type Resolver } from '../outbound/guarded-agent.js';

export interface GuardedFetchOptions {
  /** Address classes allowed besides public ones (configuration: clientIdMetadataDocument.allowedAddresses). */
  allowed: readonly AddressClass[];
  timeoutMs: number;
  resolver?: Resolver;
  /** Extra trusted CA certificates (PEM), for tests that serve documents over https on loopback. */
  ca?: string | string[];
}

export type ProviderFetch = (url: URL | string, options: RequestInit & { dispatcher?: unknown }) => Promise<Response>;

/**
 * The guarded fetch: the URL must be https; an IP-literal host is checked as it is, a name is resolved once and the
 * connection goes to the checked address (no second resolution to rebind); redirects are never followed.
 */
export function guardedFetch(options: GuardedFetchOptions): ProviderFetch & { close(): Promise<void> } {
  const allowed = new Set(options.allowed);
  let agent: Promise<Agent> | undefined;
  const fetchGuarded = async (input: URL | string, init: RequestInit & { dispatcher?: unknown }) => {
    const url = new URL(input);
    if (url.protocol !== 'https:') throw new OutboundRefused('only https URLs are fetched');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) assertAddressAllowed(host, allowed);
    const { dispatcher: _providerGuard, signal: _providerTimeout, ...rest } = init;
    const undici = await undiciLibrary();
    agent ??= guardedAgent(options);
    const response = await undici.fetch(url, { ...(rest as object), redirect: 'manual', dispatcher: await agent, signal: AbortSignal.timeout(options.timeoutMs) });
    return response as unknown as Response;
  };
  return Object.assign(fetchGuarded, { close: async () => (await agent)?.close() });
}
