// Readiness probe (/readyz: the store answers); liveness (/healthz) is answered first, in static-cache.ts.
import type Router from '@koa/router';
import type { KeyValueStore } from '../../store/store.js';

export function readinessRoute(router: Router, store: KeyValueStore): void {
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
