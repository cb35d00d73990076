// Store timing on the memory store and real Redis: each operation is counted under its name, failures as errors, results unchanged.
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { instrumentStore } from '../../src/observability/store-metrics.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { sample } from './scrape.js';

describe.each(STORE_BACKENDS)('instrumentStore on %s', (_name, open) => {
  let raw: KeyValueStore | undefined;
  afterEach(async () => closeTestStore(raw));

  it('times every operation and keeps its answer', async () => {
    raw = await open();
    const metrics = createMetrics({ defaults: false });
    const store = instrumentStore(raw, metrics);
    await store.set('k', { a: 1 }, 10_000);
    expect(await store.get('k')).toEqual({ a: 1 });
    expect(await store.getMany(['k', 'missing'])).toEqual([{ a: 1 }, undefined]);
    expect(await store.setIfAbsent('k', 2, 10_000)).toBe(false);
    await store.batch([{ op: 'delete', key: 'k' }]);
    expect(await store.get('k')).toBeUndefined();
    const text = await metrics.registry.metrics();
    expect(sample(text, 'vestibule_store_operation_duration_seconds_count', { op: 'get' })).toBe(2);
    for (const op of ['set', 'getMany', 'setIfAbsent', 'batch']) expect(sample(text, 'vestibule_store_operation_duration_seconds_count', { op })).toBe(1);
    expect(sample(text, 'vestibule_store_errors_total', { op: 'get' })).toBe(0);
  });

  it('counts a failed operation as an error and passes the error on', async () => {
    raw = await open();
    const metrics = createMetrics({ defaults: false });
    const store = instrumentStore(raw, metrics);
    // A value that cannot be serialised (a cycle) fails inside the store on both backends.
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(store.set('c', cyclic, 10_000)).rejects.toThrow();
    const text = await metrics.registry.metrics();
    expect(sample(text, 'vestibule_store_errors_total', { op: 'set' })).toBe(1);
    expect(sample(text, 'vestibule_store_operation_duration_seconds_count', { op: 'set' })).toBe(1);
  });
});
