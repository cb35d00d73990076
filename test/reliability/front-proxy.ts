// A test load balancer in front of broker processes: round robin over keep-alive connections, and the next instance when one refuses the connection (as nginx's proxy_next_upstream error does).
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FrontProxy {
  readonly url: string;
  readonly port: number;
  /** Requests sent again to another instance because one refused the connection or closed an idle keep-alive connection under it. */
  readonly retried: number;
  /** Requests the proxy could not get answered (it answered 502), with the reason. */
  readonly failures: string[];
  /** Route to these instance ports (in round robin). */
  setBackends(ports: number[]): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

/**
 * Assumption, as with nginx: a request is sent to the next instance only when the connection was refused, or when an
 * idle keep-alive connection was closed by the instance before any answer (Node's `reusedSocket` case). The draining
 * broker closes a keep-alive connection only when no request is on it, so such a request was never seen by it.
 */
export async function startFrontProxy(): Promise<FrontProxy> {
  let backends: number[] = [];
  let next = 0;
  let retried = 0;
  const failures: string[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const order = backends.map((_, i) => backends[(next + i) % backends.length]!);
      next = (next + 1) % Math.max(1, backends.length);
      const attempt = (index: number, tries: number) => {
        const port = order[index % order.length];
        if (port === undefined || tries > order.length * 3) {
          failures.push(`${req.method} ${req.url}: no instance answered`);
          res.writeHead(502).end();
          return;
        }
        const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: { ...forwardable(req.headers), 'content-length': String(body.length) }, agent }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
          answer.pipe(res);
          answer.on('error', (error) => {
            failures.push(`${req.method} ${req.url}: cut during the answer (${error.message})`);
            res.destroy();
          });
        });
        upstream.on('error', (error: NodeJS.ErrnoException) => {
          const neverSeen = error.code === 'ECONNREFUSED' || (upstream.reusedSocket && error.code === 'ECONNRESET');
          if (neverSeen) {
            retried += 1;
            setTimeout(() => attempt(index + 1, tries + 1), error.code === 'ECONNREFUSED' ? 20 : 0);
            return;
          }
          failures.push(`${req.method} ${req.url} to ${port}: ${error.code ?? error.message}`);
          if (!res.headersSent) res.writeHead(502).end();
          else res.destroy();
        });
        upstream.end(body);
      };
      attempt(0, 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get retried() {
      return retried;
    },
    failures,
    setBackends(ports) {
      backends = [...ports];
    },
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
