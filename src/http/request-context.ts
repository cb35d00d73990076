// Gives each request an id (X-Request-Id) and a child logger carrying it; logs one line per request (not for healthy probes).
import { randomUUID } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';

const VALID_INCOMING_ID = /^[A-Za-z0-9._-]{8,128}$/;
const PROBES = new Set(['/healthz', '/readyz']);

/** `trustIncomingId` says whether this request came through a trusted proxy, whose X-Request-Id is kept. */
export function requestContext(logger: Logger, trustIncomingId: (ctx: Context) => boolean): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = VALID_INCOMING_ID.test(incoming) && trustIncomingId(ctx) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    // The child logger is made on first use: most requests never log anything but their request line.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (child ??= logger.child({ requestId })), enumerable: true });
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      // Probes answering 200 are not logged (they come every few seconds); everything else is, path only:
      // query strings can carry codes and tokens.
      if (!(PROBES.has(ctx.path) && ctx.status === 200) && logger.isLevelEnabled('info')) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        logger.info({ requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
      }
    }
  };
}
