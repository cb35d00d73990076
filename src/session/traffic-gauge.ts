// Whether the broker is answering requests right now: a Koa middleware counts them, and the re-verification sweep asks busy() before it starts a check, or waits for whenIdle().
import type { Middleware } from 'koa';

/** After the last request ends, the process counts as busy this long more: the next request of the same browser flow is usually on its way. */
const QUIET_MS = 2;

export interface TrafficGauge {
  /** Counts every request from its start until its response is written; mount it before every other middleware. */
  middleware: Middleware;
  /** A request is in flight, or one ended less than a moment ago. */
  busy(): boolean;
  /** Settles as soon as busy() turns false (at once when it is false): a waiting check takes the first idle moment, however short. */
  whenIdle(): Promise<void>;
}

export function createTrafficGauge(monotonic: () => number = () => performance.now()): TrafficGauge {
  let inFlight = 0;
  let lastEndedAt = -Infinity;
  /** The waiters of the current busy spell: one promise, settled when it ends. */
  let waiting: { promise: Promise<void>; settle: () => void } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const busy = () => inFlight > 0 || monotonic() - lastEndedAt < QUIET_MS;
  /** Settles the waiters if the spell is over, else looks again when the quiet moment after the last request has passed. */
  const check = () => {
    timer = undefined;
    if (!waiting || inFlight > 0) return;
    const quietLeft = lastEndedAt + QUIET_MS - monotonic();
    if (quietLeft > 0) {
      timer = setTimeout(check, quietLeft);
      timer.unref();
      return;
    }
    const { settle } = waiting;
    waiting = undefined;
    settle();
  };
  return {
    async middleware(_ctx, next) {
      inFlight += 1;
      try {
        await next();
      } finally {
        inFlight -= 1;
        lastEndedAt = monotonic();
        if (inFlight === 0 && waiting && !timer) check();
      }
    },
    busy,
    whenIdle() {
      if (!busy()) return Promise.resolve();
      if (!waiting) {
        let settle = () => {};
        const promise = new Promise<void>((resolve) => (settle = resolve));
        waiting = { promise, settle };
      }
      if (inFlight === 0 && !timer) check();
      return waiting.promise;
    },
  };
}
