// Counts the requests an app is answering, so a reload closes the old app only once the requests it took have been answered.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Tracked {
  handler: Handler;
  /** Resolves once no request is in flight (at once when none is), or after `maxWaitMs`. */
  drained(maxWaitMs: number): Promise<void>;
}

export function trackInFlight(handler: Handler): Tracked {
  let active = 0;
  let waiters: (() => void)[] = [];
  const done = () => {
    active -= 1;
    if (active === 0) {
      for (const wake of waiters) wake();
      waiters = [];
    }
  };
  return {
    handler(req, res) {
      active += 1;
      res.once('close', done);
      handler(req, res);
    },
    drained(maxWaitMs) {
      if (active === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, maxWaitMs);
        timer.unref();
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
