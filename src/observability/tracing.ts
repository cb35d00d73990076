// OpenTelemetry spans through @opentelemetry/api: one server span per request, a client span per upstream call; no-ops until an SDK is registered.
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Middleware } from 'koa';

const tracer = () => trace.getTracer('vestibule');

/**
 * A server span around each request, continuing an incoming W3C `traceparent`; named by method only (a path can
 * carry ids), with the path, status and request id as attributes. Spans are recorded only when the process registers
 * an OpenTelemetry SDK (e.g. `node --import ./otel-setup.mjs`); without one this is the API's no-op.
 */
export function tracingMiddleware(): Middleware {
  return async (ctx, next) => {
    const parent = propagation.extract(context.active(), ctx.headers);
    await tracer().startActiveSpan(`HTTP ${ctx.method}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': ctx.method, 'url.path': ctx.path } }, parent, async (span) => {
      try {
        await next();
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.setAttribute('http.response.status_code', ctx.status);
        if (typeof ctx.state.requestId === 'string') span.setAttribute('vestibule.request_id', ctx.state.requestId);
        if (ctx.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
    });
  };
}

/** Runs one upstream HTTP call in a client span (child of the request's span); `work` gets the span to annotate. */
export function traceUpstream<T>(connector: string, endpoint: string, url: string, work: (span: Span) => Promise<T>): Promise<T> {
  const host = URL.canParse(url) ? new URL(url).host : 'unknown';
  return tracer().startActiveSpan(`upstream ${endpoint}`, { kind: SpanKind.CLIENT, attributes: { 'vestibule.connector': connector, 'vestibule.endpoint': endpoint, 'server.address': host } }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).name });
      throw error;
    } finally {
      span.end();
    }
  });
}
