// Times every operation of a KeyValueStore and counts its failures (one histogram child per operation, looked up once).
import type { KeyValueStore } from '../store/store.js';
import type { Metrics } from './metrics.js';

/** Lifecycle calls, not operations: passed through untimed. */
const UNTIMED = new Set(['close', 'subscribe', 'constructor']);

type Method = (...args: unknown[]) => unknown;

/** Every method of the store (own and inherited), by name. */
function methodsOf(store: KeyValueStore): Map<string, Method> {
  const methods = new Map<string, Method>();
  for (let level: object | null = store; level && level !== Object.prototype; level = Object.getPrototypeOf(level) as object | null) {
    for (const name of Object.getOwnPropertyNames(level)) {
      const value = Object.getOwnPropertyDescriptor(level, name)?.value as unknown;
      if (typeof value === 'function' && !methods.has(name)) methods.set(name, value as Method);
    }
  }
  return methods;
}

/**
 * The same store with each asynchronous operation timed. A plain object of wrappers (no Proxy trap on every call);
 * every method runs on the store itself, so its private state is untouched.
 */
export function instrumentStore(store: KeyValueStore, metrics: Metrics): KeyValueStore {
  const timed = Object.create(store) as Record<string, Method>;
  for (const [name, method] of methodsOf(store)) {
    if (name === 'constructor') continue;
    if (UNTIMED.has(name)) {
      timed[name] = method.bind(store);
      continue;
    }
    const duration = metrics.storeDuration.labels(name);
    const errors = metrics.storeErrors.labels(name);
    timed[name] = (...args: unknown[]): unknown => {
      const start = performance.now();
      let result: unknown;
      try {
        result = method.apply(store, args);
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
  }
  return timed as unknown as KeyValueStore;
}
