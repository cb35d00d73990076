// Times every operation of a KeyValueStore and counts its failures (one histogram child per operation, looked up once).
import type { KeyValueStore } from '../store/store.js';
import type { Metrics } from './metrics.js';

/** Lifecycle calls, not operations. */
const UNTIMED = new Set<PropertyKey>(['close', 'subscribe', 'constructor']);

/** The same store, each asynchronous method timed; the store's own identity (this) is kept for its methods. */
export function instrumentStore(store: KeyValueStore, metrics: Metrics): KeyValueStore {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || UNTIMED.has(prop) || typeof prop !== 'string') return value;
      let timed = wrapped.get(prop);
      if (!timed) {
        const method = value as (...args: unknown[]) => unknown;
        const duration = metrics.storeDuration.labels(prop);
        const errors = metrics.storeErrors.labels(prop);
        timed = (...args: unknown[]): unknown => {
          const start = performance.now();
          let result: unknown;
          try {
            result = method.apply(target, args);
          } catch (error) {
            errors.inc();
            throw error;
          }
          if (!(result instanceof Promise)) return result;
          return result.then(
            (answer: unknown) => {
              duration.observe((performance.now() - start) / 1000);
              return answer;
            },
            (error: unknown) => {
              duration.observe((performance.now() - start) / 1000);
              errors.inc();
              throw error;
            },
          );
        };
        wrapped.set(prop, timed);
      }
      return timed;
    },
  });
}
