// The endpoint peer: a bare Koa app serving the same JSON documents the broker serves (discovery, JWKS, healthz).
import type { RequestListener } from 'node:http';
import Koa from 'koa';
import type { ServerSpec } from '../spec.js';

export function peerKoaServer(spec: Extract<ServerSpec, { kind: 'peer-koa' }>): { handler: RequestListener; close(): Promise<void> } {
  const app = new Koa();
  app.use((ctx) => {
    const body = spec.bodies[ctx.path];
    if (body === undefined) {
      ctx.status = 404;
      return;
    }
    ctx.body = body;
  });
  return { handler: app.callback(), close: async () => {} };
}
