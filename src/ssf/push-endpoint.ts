// A receiver-supplied push endpoint is a request the broker makes on someone else's behalf: https only, public addresses only (unless configured), pinned at connect time, time and size limits.
import { isIP } from 'node:net';
import type { Agent } from 'undici';
import { undiciLibrary } from '../undici-library.js';
import { guardedAgent, isNonPublicAddress, NON_PUBLIC_CLASSES, OutboundRefused, type Resolver } from '../outbound/guarded-agent.js';

export interface EndpointRules {
  allowHttp: boolean;
  allowPrivate: boolean;
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
  let agent: Promise<Agent> | undefined;

  return {
    async post(url: string, body: string, headers: Record<string, string>): Promise<PushResult> {
      const problem = endpointProblem(url, options);
      if (problem) throw new OutboundRefused(problem);
      const undici = await undiciLibrary();
      agent ??= guardedAgent({ allowed: options.allowPrivate ? NON_PUBLIC_CLASSES : [], timeoutMs: options.timeoutMs, ...(options.resolver ? { resolver: options.resolver } : {}) });
      const response = await undici.fetch(url, { method: 'POST', body, headers, redirect: 'manual', dispatcher: await agent, signal: AbortSignal.timeout(options.timeoutMs) });
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
    close: async () => (await agent)?.close(),
  };
}

export type PushClient = ReturnType<typeof createPushClient>;
