// Whether the broker is answering requests right now: a Koa middleware counts them, and the re-verification sweep asks busy() before it starts a check.
import type { Middleware } from 'koa';

/** After the last request ends, the process counts as busy this long more: the next request of the same browser flow is usually on its way. */
const QUIET_MS = 2;

export interface TrafficGauge {
  /** Counts every request from its start until its response is written; mount it before every other middleware. */
  middleware: Middleware;
  /** A request is in flight, or one ended less than a moment ago. */
  busy(): boolean;
}

export function createTrafficGauge(monotonic: () => number = () => performance.now()): TrafficGauge {
  let inFlight = 0;
  let lastEndedAt = -Infinity;
  return {
    async middleware(_ctx, next) {
      inFlight += 1;
      try {
        await next();
      } finally {
        inFlight -= 1;
        lastEndedAt = monotonic();
      }
    },
    busy: () => inFlight > 0 || monotonic() - lastEndedAt < QUIET_MS,
  };
}
