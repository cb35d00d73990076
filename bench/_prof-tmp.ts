import { ServerChild } from './lib/child.js';
import { benchPasswordHash, prepare } from './lib/harness.js';
import { closedLoad } from './lib/http-load.js';
import { writeBenchJwks } from './lib/settings.js';
prepare();
const b = await ServerChild.start('broker', { kind: 'broker', jwksFile: await writeBenchJwks(), passwordHash: await benchPasswordHash(), store: { type: 'memory' } });
for (const path of (process.argv[2] ?? '/healthz').split(',')) console.log(path, await closedLoad(b.url + path, { requests: 1, seconds: 6, connections: 32 }));
await b.stop();
