// Entry point of a benchmark server child: builds the server named by BENCH_SERVER_SPEC, listens on a loopback port,
// prints one ReadyLine on stdout, and answers the parent's IPC requests (memory after GC) until told to exit.
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReadyLine, ServerSpec } from './spec.js';
import { profilerCommand } from './window-profiler.js';

const spec = JSON.parse(process.env.BENCH_SERVER_SPEC ?? '{}') as ServerSpec;
let handler: RequestListener = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const issuer = `http://127.0.0.1:${port}`;

let built: { handler: RequestListener; close(): Promise<void> };
if (spec.kind === 'broker') built = await (await import('./servers/broker.js')).brokerServer(spec, issuer);
else if (spec.kind === 'peer-oidc') built = (await import('./servers/peer-oidc.js')).peerOidcServer(spec, issuer);
else if (spec.kind === 'peer-koa') built = (await import('./servers/peer-koa.js')).peerKoaServer(spec);
else throw new Error(`unknown server kind ${(spec as { kind: string }).kind}`);
handler = built.handler;

// Orphaned (the scenario died): exit rather than linger pinned to the server core.
process.on('disconnect', () => process.exit(0));

process.on('message', async (message: { id: number; cmd: string }) => {
  const profiling = profilerCommand(message.cmd);
  if (profiling) {
    process.send!({ id: message.id, result: await profiling });
  } else if (message.cmd === 'memory') {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    process.send!({ id: message.id, result: { ...process.memoryUsage(), gc: Boolean(gc) } });
  } else if (message.cmd === 'exit') {
    server.closeAllConnections();
    server.close();
    await built.close();
    process.send!({ id: message.id, result: true }, () => process.exit(0));
  }
});

const ready: ReadyLine = { ready: true, port, pid: process.pid };
process.stdout.write(`${JSON.stringify(ready)}\n`);
