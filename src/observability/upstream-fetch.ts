// A fetch for one connector's upstream calls that times each one into the upstream latency histogram (and traces it, when tracing is on).
import { context, propagation } from '@opentelemetry/api';
import type { Metrics } from './metrics.js';
import { traceUpstream } from './tracing.js';

/** The endpoint label of a URL: its role when the caller names it, else the last path segment when it is a known one. */
const KNOWN = new Set(['token', 'userinfo', 'jwks', 'openid-configuration', 'oauth-authorization-server', 'metadata', 'introspect', 'revoke', 'par']);

function endpointOf(url: string): string {
  const path = URL.canParse(url) ? new URL(url).pathname : '';
  const last = path.split('/').filter(Boolean).at(-1)?.replace(/\.(json|xml)$/, '') ?? '';
  if (KNOWN.has(last)) return last;
  if (last === 'jwks_uri' || last === 'certs' || last === 'keys') return 'jwks';
  return 'other';
}

const outcomeOf = (status: number): string => `${Math.floor(status / 100)}xx`;

/**
 * Returns a fetch that records `vestibule_upstream_request_duration_seconds{connector, endpoint, outcome}`.
 * `endpoint` fixes the label for callers that know it (SAML metadata); otherwise it is read from the URL's last path
 * segment (token, userinfo, jwks, openid-configuration; anything else is "other"). With `traced`, each call also runs in
 * an OpenTelemetry client span that carries the trace context to the upstream (`traceparent`).
 */
export function timedFetch(metrics: Metrics, connector: string, endpoint?: string, traced = false): typeof fetch {
  const timed: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const labels = { connector, endpoint: endpoint ?? endpointOf(url) };
    const start = performance.now();
    try {
      const response = await fetch(input, init);
      metrics.upstreamDuration.observe({ ...labels, outcome: outcomeOf(response.status) }, (performance.now() - start) / 1000);
      return response;
    } catch (error) {
      metrics.upstreamDuration.observe({ ...labels, outcome: 'error' }, (performance.now() - start) / 1000);
      throw error;
    }
  };
  if (!traced) return timed;
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return traceUpstream(connector, endpoint ?? endpointOf(url), url, async (span) => {
      const headers = new Headers(init?.headers);
      propagation.inject(context.active(), headers, { set: (carrier, key, value) => carrier.set(key, value) });
      const response = await timed(input, { ...init, headers });
      span.setAttribute('http.response.status_code', response.status);
      return response;
    });
  };
}

/** The timed fetch of one configured connector: a SAML connector's only upstream call is its metadata URL. */
export function connectorFetch(metrics: Metrics, connectorId: string, type: string, traced = false): typeof fetch {
  return timedFetch(metrics, connectorId, type === 'saml' ? 'metadata' : undefined, traced);
}
