// The real store with fault injection for tests: a chosen call fails (before it reaches the store, or after it landed, its answer lost), or every call fails for a while.
import { StoreUnavailableError, type KeyValueStore } from '../../src/store/store.js';

/** Which store call a fault waits for: the method and its arguments. */
export type FaultMatch = (method: string, args: unknown[]) => boolean;

/**
 * The real store, with fault injection: once armed, the next call the match picks runs `fault` first (throw an
 * outage, or kill the real Redis) and is then passed on; with `after`, the call is made first and the fault then runs
 * in place of its answer (the write landed, its answer was lost). `silence` makes every call fail for a while.
 */
export function withFaults(store: KeyValueStore) {
  let armed: { match: FaultMatch; fault: () => Promise<void>; after: boolean } | undefined;
  let silentUntil = 0;
  const proxied = new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (Date.now() < silentUntil) throw new StoreUnavailableError('injected silence');
        const due = armed;
        const call = () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (due && due.match(String(prop), args)) {
          armed = undefined;
          if (due.after) {
            await call();
            await due.fault();
            throw new StoreUnavailableError('answer lost');
          }
          await due.fault();
        }
        return call();
      };
    },
  });
  return {
    store: proxied,
    arm(match: FaultMatch, fault: () => Promise<void>, options: { after?: boolean } = {}) {
      armed = { match, fault, after: options.after ?? false };
    },
    silence(ms: number) {
      silentUntil = Date.now() + ms;
    },
    get fired() {
      return armed === undefined;
    },
  };
}

/** A store outage, as a fault. */
export const outage = async () => {
  throw new StoreUnavailableError('injected outage');
};
