// The store backends end-to-end tests run on: the memory store and the shared test Redis (an own key prefix each).
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { disposeRedisStore, openRedisStore } from './redis.js';

export const STORE_BACKENDS: ReadonlyArray<readonly [name: string, open: () => Promise<KeyValueStore>]> = [
  ['memory', async () => new MemoryStore()],
  ['redis', () => openRedisStore()],
];

/** Closes a store a test opened from STORE_BACKENDS (a Redis store's keys are flushed first). */
export async function closeTestStore(store: KeyValueStore | undefined): Promise<void> {
  if (store instanceof RedisStore) await disposeRedisStore(store);
  else await store?.close();
}
