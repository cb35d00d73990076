// The separate metrics listener (metrics.host:metrics.port, loopback by default): /metrics and nothing else.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { scrapeHandler } from './exposition.js';
import { METRICS_PATH } from './main-port.js';

export interface MetricsServerOptions {
  host: string;
  port: number;
  token?: string;
  /** The registry to serve, read at each scrape (a reload may swap the app). */
  registry: () => Registry;
}

/** Listens and resolves with the server; rejects when the address cannot be bound (EADDRINUSE, EACCES...). */
export async function startMetricsServer(options: MetricsServerOptions): Promise<Server> {
  const scrape = scrapeHandler(options.registry, options.token);
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== METRICS_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    scrape(req.method ?? 'GET', req.headers.authorization).then(
      (answer) => res.writeHead(answer.status, answer.headers).end(answer.body),
      () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n'),
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
