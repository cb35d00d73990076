// Koa middleware serving /metrics on the broker's own port (behind the bearer token; see config metrics.onMainPort).
import type { Middleware } from 'koa';
import type { Registry } from 'prom-client';
import { scrapeHandler } from './exposition.js';

export const METRICS_PATH = '/metrics';

export function metricsRoute(registry: Registry, token: string | undefined): Middleware {
  const scrape = scrapeHandler(() => registry, token);
  return async (ctx, next) => {
    if (ctx.path !== METRICS_PATH) return next();
    const answer = await scrape(ctx.method, ctx.get('authorization') || undefined);
    ctx.status = answer.status;
    ctx.set(answer.headers);
    ctx.body = answer.body;
  };
}
