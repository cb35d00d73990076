// The listener's connections: a per-address connection cap, and the drain on shutdown (Connection: close, idle connections closed, in-flight requests finished).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface DrainResult {
  /** Every request the broker had begun to answer was answered. */
  answered: boolean;
  /** Connections cut at the deadline that never completed a request (headers still arriving). */
  cut: number;
}

export interface ServerConnections {
  /**
   * Stops accepting, closes idle connections, answers in-flight requests with `Connection: close` and closes each
   * connection once its request is answered; resolves when no connection is left, or at `timeoutMs`.
   */
  drain(timeoutMs: number): Promise<DrainResult>;
  /** Requests being answered right now. */
  readonly inFlight: number;
}

/** Attach before `listen`. `maxPerAddress` 0 means no cap. */
export function trackConnections(server: Server, options: { maxPerAddress: number }): ServerConnections {
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  const responses = new Set<ServerResponse>();
  let draining = false;
  let allClosed: (() => void) | undefined;

  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (perAddress.get(address) ?? 0) + 1;
    if (options.maxPerAddress > 0 && count > options.maxPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, count);
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
      if (draining && sockets.size === 0) allClosed?.();
    });
  });

  // Runs before the app's handler: a response begun while draining says Connection: close.
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    responses.add(res);
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      responses.delete(res);
      // Node's own notion of idle: no request on the connection, not even headers arriving.
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  });

  return {
    get inFlight() {
      return responses.size;
    },
    drain(timeoutMs) {
      draining = true;
      for (const res of responses) if (!res.headersSent) res.shouldKeepAlive = false;
      server.close();
      server.closeIdleConnections();
      if (sockets.size === 0) return Promise.resolve({ answered: true, cut: 0 });
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          const answered = responses.size === 0;
          const cut = sockets.size;
          for (const socket of sockets) socket.destroy();
          resolve({ answered, cut });
        }, timeoutMs);
        allClosed = () => {
          clearTimeout(timer);
          resolve({ answered: true, cut: 0 });
        };
      });
    },
  };
}
