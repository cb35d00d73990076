// The oidc-provider adapter against the memory store and a real Redis (REDIS_URL).
import { afterAll } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import type { RedisStore } from '../../src/store/redis.js';
import { disposeAllRedisStores, disposeRedisStore, openRedisStore } from '../helpers/redis.js';
import { runOidcAdapterSuite } from './oidc-adapter-suite.js';

runOidcAdapterSuite('memory', async () => new MemoryStore());
runOidcAdapterSuite('redis', () => openRedisStore(), (store) => disposeRedisStore(store as RedisStore));
afterAll(disposeAllRedisStores);
