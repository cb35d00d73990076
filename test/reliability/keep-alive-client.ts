// An HTTP/1.1 client over one kept-alive connection per agent (as proxies and ingresses hold them), with the request body optionally trickled.
import { Agent, request } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request that got no answer: `reusedSocket` tells a closed idle keep-alive connection (never seen by the server) from a cut request. */
export class NoAnswer extends Error {
  constructor(
    readonly code: string,
    readonly reusedSocket: boolean,
  ) {
    super(`${code}${reusedSocket ? ' (reused keep-alive connection)' : ''}`);
  }
}

export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

export interface Send {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Sends the body in this many pieces, waiting `pauseMs` before each; `onFirstPiece` runs once the headers and first piece are out. */
  trickle?: { pieces: number; pauseMs: number; onFirstPiece?: () => void };
}

export function send(agent: Agent, url: string, options: Send = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(options.body ?? '');
    const req = request(url, { method: options.method ?? 'GET', agent, headers: { ...options.headers, ...(options.body !== undefined ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', (error: NodeJS.ErrnoException) => reject(new NoAnswer(error.code ?? error.message, false)));
    });
    req.on('error', (error: NodeJS.ErrnoException) => reject(new NoAnswer(error.code ?? error.message, req.reusedSocket)));
    if (!options.trickle) return void req.end(body);
    const { pieces, pauseMs, onFirstPiece } = options.trickle;
    const size = Math.ceil(body.length / pieces);
    void (async () => {
      for (let i = 0; i < pieces; i += 1) {
        req.write(body.subarray(i * size, (i + 1) * size));
        if (i === 0) {
          req.flushHeaders();
          onFirstPiece?.();
        }
        await new Promise((wait) => setTimeout(wait, pauseMs));
      }
      req.end();
    })();
  });
}

export const basicAuth = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
