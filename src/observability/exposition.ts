// Answers one scrape: GET or HEAD, the bearer token when one is set, then the registry in the Prometheus text format.
import type { Registry } from 'prom-client';
import { bearerCheck } from './bearer.js';

export interface ScrapeAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A scrape handler; 401 and 405 answers carry no detail about the registry or the token. */
export function scrapeHandler(registry: () => Registry, token: string | undefined): (method: string, authorization: string | undefined) => Promise<ScrapeAnswer> {
  const authorized = bearerCheck(token);
  return async (method, authorization): Promise<ScrapeAnswer> => {
    if (method !== 'GET' && method !== 'HEAD') return { status: 405, headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }, body: 'method not allowed\n' };
    if (!authorized(authorization)) {
      return { status: 401, headers: { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain; charset=utf-8' }, body: 'unauthorized\n' };
    }
    const current = registry();
    const body = await current.metrics();
    return { status: 200, headers: { 'content-type': current.contentType, 'cache-control': 'no-store' }, body: method === 'HEAD' ? '' : body };
  };
}
