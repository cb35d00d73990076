// OpenTelemetry traces (tracing: true, an SDK registered in the process): a server span per request, a client span per upstream call under it, W3C trace context in and out.
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

const exporter = new InMemorySpanExporter();
const upstreamTraceparents: string[] = [];
let up: TestUpstream;
let broker: TestBroker;

beforeAll(async () => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const port = await freeLoopbackPort();
  up = await startTestUpstream({
    brokerIssuer: `http://127.0.0.1:${port}`,
    connectorId: 'acme',
    configure: (provider) =>
      provider.use(async (ctx, next) => {
        if (ctx.path === '/token') upstreamTraceparents.push(ctx.get('traceparent'));
        await next();
      }),
  });
  broker = await startBroker({ port, providers: [{ id: 'acme', type: 'oidc', name: 'ACME', config: up.connectorConfig() }], config: { tracing: true } });
});

afterAll(async () => {
  await broker?.close();
  await up?.close();
  trace.disable();
  context.disable();
  propagation.disable();
});

describe('OpenTelemetry traces', () => {
  it('puts the upstream token call under the callback request, and sends the trace context upstream', async () => {
    const config = await discoverRp(broker.issuer);
    const request = await authorizationRequest(config);
    const browser = new Browser();
    let page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    exporter.reset();
    page = await browser.submit(page, '/login', { username: 'alice', password: 'alice-pw' }, TEST_CLIENT.redirectUri);
    const callback = await completeLogin(browser, page, TEST_CLIENT.redirectUri);
    await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });

    const spans = exporter.getFinishedSpans();
    const upstreamToken = spans.find((span) => span.name === 'upstream token');
    expect(upstreamToken?.kind).toBe(SpanKind.CLIENT);
    expect(upstreamToken?.attributes).toMatchObject({ 'vestibule.connector': 'acme', 'vestibule.endpoint': 'token', 'http.response.status_code': 200 });
    const parent = spans.find((span) => span.spanContext().spanId === upstreamToken?.parentSpanContext?.spanId);
    expect(parent?.kind).toBe(SpanKind.SERVER);
    expect(parent?.attributes['url.path']).toBe('/callback/acme');
    expect(parent?.spanContext().traceId).toBe(upstreamToken?.spanContext().traceId);
    expect(upstreamTraceparents.at(-1)).toBe(`00-${upstreamToken!.spanContext().traceId}-${upstreamToken!.spanContext().spanId}-01`);
  });

  it("continues a caller's traceparent and records the status, without the query string", async () => {
    exporter.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${broker.issuer}/.well-known/openid-configuration?secret=x`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(response.status).toBe(200);
    const span = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER);
    expect(span?.spanContext().traceId).toBe(traceId);
    expect(span?.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/.well-known/openid-configuration', 'http.response.status_code': 200 });
    expect(JSON.stringify(span?.attributes)).not.toContain('secret');
  });
});
