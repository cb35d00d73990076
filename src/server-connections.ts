// The listener's connections: a per-address connection cap, and the drain on shutdown (Connection: close, idle sockets closed, in-flight requests finished).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ServerConnections {
  /** Stops accepting, closes idle connections, answers in-flight requests with `Connection: close`, and resolves true once every connection is gone (false when `timeoutMs` runs out first). */
  drain(timeoutMs: number): Promise<boolean>;
  /** Requests being answered right now. */
  readonly inFlight: number;
}

interface Tracked {
  /** Requests received on this socket and not yet answered. */
  busy: number;
}

/** Attach before `listen`. `maxPerAddress` 0 means no cap. */
export function trackConnections(server: Server, options: { maxPerAddress: number }): ServerConnections {
  const sockets = new Map<Socket, Tracked>();
  const perAddress = new Map<string, number>();
  const responses = new Set<ServerResponse>();
  let draining = false;
  let allClosed: (() => void) | undefined;

  const closeWhenIdle = (socket: Socket) => {
    const tracked = sockets.get(socket);
    // destroySoon: the response bytes already written go out first, then the connection closes.
    if (tracked && tracked.busy === 0) socket.destroySoon();
  };

  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (perAddress.get(address) ?? 0) + 1;
    if (options.maxPerAddress > 0 && count > options.maxPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, count);
    sockets.set(socket, { busy: 0 });
    socket.once('close', () => {
      sockets.delete(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
      if (draining && sockets.size === 0) allClosed?.();
    });
  });

  // Runs before the app's handler: a response started while draining says Connection: close.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const tracked = sockets.get(socket);
    if (tracked) tracked.busy += 1;
    responses.add(res);
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      responses.delete(res);
      if (tracked) tracked.busy -= 1;
      if (draining) closeWhenIdle(socket);
    });
  });

  return {
    get inFlight() {
      return responses.size;
    },
    drain(timeoutMs) {
      draining = true;
      server.close();
      for (const res of responses) if (!res.headersSent) res.shouldKeepAlive = false;
      for (const socket of sockets.keys()) closeWhenIdle(socket);
      if (sockets.size === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        allClosed = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
    },
  };
}
