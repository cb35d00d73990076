// Liveness (/healthz) and readiness (/readyz: the store answers) probes.
import type Router from '@koa/router';
import type { KeyValueStore } from '../../store/store.js';

export function healthRoutes(router: Router, store: KeyValueStore): void {
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await store.ping();
      ctx.body = { status: 'ready', store: store.kind };
    } catch {
      ctx.status = 503;
      ctx.set('Retry-After', '5');
      ctx.body = { status: 'unavailable', store: store.kind };
    }
  });
}
