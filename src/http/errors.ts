// Errors with a stable code, a status and a safe message; one middleware turns any thrown error into a page or JSON.
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { ConnectorError } from '../connectors/connector.js';
import { StoreUnavailableError } from '../store/store.js';
import type { Renderer } from './views.js';

/** An error answered to the user: `code` picks the translated safe message, `detail` goes to logs only. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly expose = true;
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string = code,
  ) {
    super(code);
  }
}

interface Classified {
  status: number;
  code: string;
  /** Key of the safe message in the catalog. */
  messageKey: string;
  detail: string;
}

export function classify(error: unknown): Classified {
  if (error instanceof StoreUnavailableError) {
    return { status: 503, code: 'store_unavailable', messageKey: 'store_unavailable', detail: String((error.cause as Error)?.message ?? error.error_description) };
  }
  if (error instanceof ConnectorError) {
    const messageKey =
      error.code === 'upstream_client_rejected' || error.code === 'upstream_issuer_mismatch' ? 'upstream_misconfigured' : error.status >= 500 ? 'upstream_unavailable' : error.code === 'upstream_error' ? 'upstream_error' : 'callback_rejected';
    return { status: error.status, code: error.code, messageKey, detail: error.detail };
  }
  if (error instanceof HttpError) return { status: error.status, code: error.code, messageKey: error.code, detail: error.detail };
  const err = error as { status?: number; type?: string; message?: string; expose?: boolean };
  if (err?.status === 413 || err?.type === 'entity.too.large') return { status: 413, code: 'payload_too_large', messageKey: 'payload_too_large', detail: 'request body too large' };
  if (err?.status && err.status >= 400 && err.status < 500 && err.expose) return { status: err.status, code: 'bad_request', messageKey: 'oidc', detail: String(err.message) };
  return { status: 500, code: 'server_error', messageKey: 'server_error', detail: err?.message ?? String(error) };
}

function wantsJson(ctx: Context): boolean {
  return ctx.accepts('html', 'json') === 'json' && !ctx.get('accept').includes('html');
}

export function sendError(ctx: Context, renderer: Renderer, classified: Classified): void {
  if (classified.status === 503) ctx.set('Retry-After', '5');
  const message = renderer.errorMessage(ctx, classified.messageKey);
  if (wantsJson(ctx)) {
    ctx.status = classified.status;
    ctx.body = { error: classified.status === 503 ? 'temporarily_unavailable' : classified.code, error_description: message };
    return;
  }
  renderer.render(ctx, 'error', { message, code: classified.code, requestId: ctx.state.requestId }, classified.status);
}

export function errorHandler(renderer: Renderer): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', '5');
      if (ctx.status === 404 && ctx.body === undefined) sendError(ctx, renderer, { status: 404, code: 'not_found', messageKey: 'not_found', detail: 'no route' });
    } catch (error) {
      const classified = classify(error);
      const log = ctx.state.log as Logger | undefined;
      if (classified.status >= 500 && classified.code === 'server_error') log?.error({ err: error }, 'unhandled error');
      else log?.warn({ code: classified.code, detail: classified.detail, status: classified.status }, 'request refused');
      sendError(ctx, renderer, classified);
    }
  };
}
