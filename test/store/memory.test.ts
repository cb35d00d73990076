// The in-memory store passes the KeyValueStore conformance suite.
import { MemoryStore } from '../../src/store/memory.js';
import { runStoreConformance } from './conformance.js';

runStoreConformance('memory', async () => new MemoryStore({ sweepMs: 0 }));
