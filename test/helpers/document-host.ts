// An https server on loopback that serves Client ID Metadata Documents (or misbehaves on purpose) and counts every request it gets.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Resolver } from '../../src/outbound/guarded-agent.js';
import type { TestCertificate } from './tls.js';

export interface DocumentHost {
  port: number;
  /** Requests received, by path. */
  hits: string[];
  /** The next answers: path -> handler. */
  routes: Map<string, (req: IncomingMessage, res: ServerResponse) => void>;
  close(): Promise<void>;
}

export async function startDocumentHost(certificate: TestCertificate): Promise<DocumentHost> {
  const hits: string[] = [];
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const server: Server = createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://host').pathname;
    hits.push(path);
    const route = routes.get(path);
    if (route) return route(req, res);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    routes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers with JSON and the given headers. */
export const json = (body: unknown, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

/** A resolver that knows only the test's host names; anything else fails (no test traffic leaves the machine). */
export function testResolver(names: Record<string, string>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string) => {
    asked.push(hostname);
    const address = names[hostname];
    if (!address) throw Object.assign(new Error(`test resolver: unknown host ${hostname}`), { code: 'ENOTFOUND' });
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };
  return Object.assign(resolve, { asked });
}
