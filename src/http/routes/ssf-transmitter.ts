// The SSF transmitter's HTTP face: /.well-known/ssf-configuration, stream management (SSF 1.0 §8) and poll delivery (RFC 8936), each request authenticated as one client that sees only its own streams.
import { timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Auditor } from '../../audit/auditor.js';
import type { SsfTransmitterConfig } from '../../config/ssf-schema.js';
import { endpointProblem } from '../../ssf/push-endpoint.js';
import { MAX_EXCLUDED, POLL_METHOD, PUSH_METHOD, type StreamRecord, type StreamRepository, type StreamStatus } from '../../ssf/streams.js';
import { EVENTS_SUPPORTED, type SsfTransmitter } from '../../ssf/transmitter.js';
import { HttpError } from '../errors.js';
import { readJsonObject } from './ssf-body.js';

export interface TransmitterRouteDeps {
  provider: Provider;
  issuer: string;
  streams: StreamRepository;
  transmitter: SsfTransmitter;
  auditor: Pick<Auditor, 'record'>;
  settings: SsfTransmitterConfig;
  now: () => number;
}

const MAX_BODY_BYTES = 16 * 1024;
const STATUSES: readonly StreamStatus[] = ['enabled', 'paused', 'disabled'];

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/** HTTP Basic with the client's id and secret (RFC 6749 §2.3.1 encoding), checked against oidc-provider's Client model. */
async function authenticate(ctx: Context, provider: Provider): Promise<string> {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(ctx.get('authorization'));
  const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new HttpError(401, 'invalid_client', 'HTTP Basic client credentials required');
  let clientId: string;
  let secret: string;
  try {
    clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
  } catch {
    throw new HttpError(401, 'invalid_client', 'malformed client credentials');
  }
  const client = clientId.length <= 255 ? await provider.Client.find(clientId) : undefined;
  const expected = (client as { clientSecret?: string } | undefined)?.clientSecret;
  if (!expected || !sameSecret(secret, expected)) throw new HttpError(401, 'invalid_client', 'unknown client or wrong secret');
  return clientId;
}

/** The stream configuration a receiver sees (SSF 1.0 §8.1.1); the delivery's authorization header is write-only. */
function view(stream: StreamRecord, issuer: string) {
  const { authorization_header: _secret, ...delivery } = stream.delivery;
  return {
    stream_id: stream.stream_id,
    iss: issuer,
    aud: stream.clientId,
    delivery,
    events_supported: EVENTS_SUPPORTED,
    events_requested: stream.events_requested,
    events_delivered: stream.events_requested.filter((type) => EVENTS_SUPPORTED.includes(type)),
    ...(stream.description ? { description: stream.description } : {}),
  };
}

const stringList = (value: unknown, field: string): string[] => {
  if (!Array.isArray(value) || value.length > 50 || !value.every((item) => typeof item === 'string' && item.length <= 256)) {
    throw new HttpError(400, 'invalid_request', `${field} must be a list of at most 50 strings`);
  }
  return value as string[];
};

export function ssfTransmitterRoutes(router: Router, deps: TransmitterRouteDeps): void {
  const { provider, issuer, streams, transmitter, auditor, settings } = deps;
  const rules = { allowHttp: settings.allowHttpEndpoints, allowPrivate: settings.allowPrivateEndpoints };

  /** Runs a management request as its authenticated client; errors answer JSON and are audited. */
  const handle = (action: string, fn: (ctx: Context, clientId: string) => Promise<void>) => async (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store');
    let clientId: string | undefined;
    try {
      clientId = await authenticate(ctx, provider);
      await fn(ctx, clientId);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      ctx.status = error.status;
      if (error.status === 401) ctx.set('WWW-Authenticate', 'Basic realm="ssf"');
      ctx.body = { error: error.code, error_description: error.detail };
      auditor.record({ event: 'ssf.stream', outcome: 'failure', reason: error.code, ...(clientId ? { clientId } : {}), ip: ctx.ip, details: { action } });
    }
  };

  const owned = async (clientId: string, streamId: unknown): Promise<StreamRecord> => {
    const stream = typeof streamId === 'string' ? await streams.get(clientId, streamId) : undefined;
    // Another client's stream and no stream at all answer alike: a receiver learns nothing of other streams.
    if (!stream) throw new HttpError(404, 'not_found', 'no such stream');
    return stream;
  };

  /** The delivery a receiver asked for, checked: push to an allowed endpoint, or poll at the broker's endpoint. */
  const deliveryOf = (value: unknown, streamId: string): StreamRecord['delivery'] => {
    const delivery = (value ?? { method: POLL_METHOD }) as Record<string, unknown>;
    if (typeof delivery !== 'object' || delivery === null) throw new HttpError(400, 'invalid_request', 'delivery must be an object');
    if (delivery.method === POLL_METHOD) return { method: POLL_METHOD, endpoint_url: `${issuer}/ssf/poll/${streamId}` };
    if (delivery.method !== PUSH_METHOD) throw new HttpError(400, 'invalid_request', `delivery.method must be ${PUSH_METHOD} or ${POLL_METHOD}`);
    const problem = endpointProblem(delivery.endpoint_url, rules);
    if (problem) throw new HttpError(400, 'invalid_request', problem);
    const authorization = delivery.authorization_header;
    if (authorization !== undefined && (typeof authorization !== 'string' || authorization.length > 1024 || /[\r\n]/.test(authorization))) {
      throw new HttpError(400, 'invalid_request', 'authorization_header must be one header value');
    }
    return { method: PUSH_METHOD, endpoint_url: delivery.endpoint_url as string, ...(authorization ? { authorization_header: authorization } : {}) };
  };

  const description = (value: unknown) => {
    if (value !== undefined && (typeof value !== 'string' || value.length > 256)) throw new HttpError(400, 'invalid_request', 'description must be a string of at most 256 characters');
    return value as string | undefined;
  };

  router.get('/.well-known/ssf-configuration', (ctx: Context) => {
    ctx.body = {
      spec_version: '1_0',
      issuer,
      jwks_uri: `${issuer}/jwks`,
      delivery_methods_supported: [PUSH_METHOD, POLL_METHOD],
      configuration_endpoint: `${issuer}/ssf/streams`,
      status_endpoint: `${issuer}/ssf/status`,
      add_subject_endpoint: `${issuer}/ssf/subjects/add`,
      remove_subject_endpoint: `${issuer}/ssf/subjects/remove`,
      verification_endpoint: `${issuer}/ssf/verify`,
      // HTTP Basic with the client's id and secret (RFC 7617).
      authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:7617' }],
      default_subjects: 'ALL',
    };
  });

  router.post(
    '/ssf/streams',
    handle('create', async (ctx, clientId) => {
      const body = await readJsonObject(ctx, MAX_BODY_BYTES);
      if ((await streams.ofClient(clientId)).length >= settings.maxStreamsPerClient) throw new HttpError(409, 'stream_exists', 'this client has as many streams as it may');
      const streamId = streams.newId();
      const stream: StreamRecord = {
        stream_id: streamId,
        clientId,
        delivery: deliveryOf(body.delivery, streamId),
        events_requested: body.events_requested === undefined ? [...EVENTS_SUPPORTED] : stringList(body.events_requested, 'events_requested'),
        ...(description(body.description) ? { description: body.description as string } : {}),
        status: 'enabled',
        excluded: [],
        createdAt: deps.now(),
      };
      await streams.save(stream);
      auditor.record({ event: 'ssf.stream', outcome: 'success', clientId, ip: ctx.ip, details: { action: 'create', streamId, method: stream.delivery.method } });
      ctx.status = 201;
      ctx.body = view(stream, issuer);
    }),
  );

  router.get(
    '/ssf/streams',
    handle('read', async (ctx, clientId) => {
      const streamId = ctx.query.stream_id;
      ctx.body = streamId === undefined ? (await streams.ofClient(clientId)).map((stream) => view(stream, issuer)) : view(await owned(clientId, streamId), issuer);
    }),
  );

  const update = (replace: boolean) =>
    handle(replace ? 'replace' : 'update', async (ctx, clientId) => {
      const body = await readJsonObject(ctx, MAX_BODY_BYTES);
      const stream = await owned(clientId, body.stream_id);
      const next: StreamRecord = {
        ...stream,
        delivery: body.delivery !== undefined || replace ? deliveryOf(body.delivery, stream.stream_id) : stream.delivery,
        events_requested: body.events_requested !== undefined ? stringList(body.events_requested, 'events_requested') : replace ? [] : stream.events_requested,
      };
      const text = description(body.description);
      if (text !== undefined) next.description = text;
      else if (replace) delete next.description;
      await streams.save(next);
      auditor.record({ event: 'ssf.stream', outcome: 'success', clientId, ip: ctx.ip, details: { action: replace ? 'replace' : 'update', streamId: stream.stream_id } });
      ctx.body = view(next, issuer);
    });
  router.patch('/ssf/streams', update(false));
  router.put('/ssf/streams', update(true));

  router.delete(
    '/ssf/streams',
    handle('delete', async (ctx, clientId) => {
      const stream = await owned(clientId, ctx.query.stream_id);
      await streams.delete(stream);
      auditor.record({ event: 'ssf.stream', outcome: 'success', clientId, ip: ctx.ip, details: { action: 'delete', streamId: stream.stream_id } });
      ctx.status = 204;
    }),
  );

  router.get(
    '/ssf/status',
    handle('status', async (ctx, clientId) => {
      const stream = await owned(clientId, ctx.query.stream_id);
      ctx.body = { stream_id: stream.stream_id, status: stream.status, ...(stream.reason ? { reason: stream.reason } : {}) };
    }),
  );

  router.post(
    '/ssf/status',
    handle('status', async (ctx, clientId) => {
      const body = await readJsonObject(ctx, MAX_BODY_BYTES);
      const stream = await owned(clientId, body.stream_id);
      if (!STATUSES.includes(body.status as StreamStatus)) throw new HttpError(400, 'invalid_request', 'status must be enabled, paused or disabled');
      if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > 256)) throw new HttpError(400, 'invalid_request', 'reason must be a short string');
      const next: StreamRecord = { ...stream, status: body.status as StreamStatus, ...(body.reason ? { reason: body.reason as string } : {}) };
      if (!body.reason) delete next.reason;
      await streams.save(next);
      auditor.record({ event: 'ssf.stream', outcome: 'success', clientId, ip: ctx.ip, details: { action: 'status', streamId: stream.stream_id, status: next.status } });
      ctx.body = { stream_id: next.stream_id, status: next.status, ...(next.reason ? { reason: next.reason } : {}) };
    }),
  );

  /** The account a subject names: an iss_sub of this issuer (the `sub` of the broker's ID tokens). */
  const accountOf = (subject: unknown): string => {
    const value = subject as { format?: unknown; iss?: unknown; sub?: unknown } | null;
    if (typeof value !== 'object' || value === null || value.format !== 'iss_sub' || value.iss !== issuer || typeof value.sub !== 'string' || value.sub.length > 255) {
      throw new HttpError(400, 'invalid_request', `subject must be an iss_sub subject of ${issuer}`);
    }
    return value.sub;
  };

  router.post(
    '/ssf/subjects/add',
    handle('add_subject', async (ctx, clientId) => {
      const body = await readJsonObject(ctx, MAX_BODY_BYTES);
      const stream = await owned(clientId, body.stream_id);
      const accountId = accountOf(body.subject);
      await streams.save({ ...stream, excluded: stream.excluded.filter((id) => id !== accountId) });
      ctx.body = '';
      ctx.status = 200;
    }),
  );

  router.post(
    '/ssf/subjects/remove',
    handle('remove_subject', async (ctx, clientId) => {
      const body = await readJsonObject(ctx, MAX_BODY_BYTES);
      const stream = await owned(clientId, body.stream_id);
      const accountId = accountOf(body.subject);
      if (!stream.excluded.includes(accountId)) {
        if (stream.excluded.length >= MAX_EXCLUDED) throw new HttpError(400, 'invalid_request', `a stream may leave out at most ${MAX_EXCLUDED} subjects`);
        await streams.save({ ...stream, excluded: [...stream.excluded, accountId] });
      }
      ctx.status = 204;
    }),
  );

  router.post(
    '/ssf/verify',
    handle('verify', async (ctx, clientId) => {
      const body = await readJsonObject(ctx, MAX_BODY_BYTES);
      const stream = await owned(clientId, body.stream_id);
      if (body.state !== undefined && (typeof body.state !== 'string' || body.state.length > 256)) throw new HttpError(400, 'invalid_request', 'state must be a short string');
      await transmitter.verify(stream, body.state as string | undefined);
      ctx.status = 204;
    }),
  );

  router.post(
    '/ssf/poll/:streamId',
    handle('poll', async (ctx, clientId) => {
      const body = await readJsonObject(ctx, MAX_BODY_BYTES);
      const stream = await owned(clientId, ctx.params.streamId);
      if (stream.delivery.method !== POLL_METHOD) throw new HttpError(400, 'invalid_request', 'this stream is delivered by push');
      const ack = body.ack === undefined ? [] : stringList(body.ack, 'ack');
      const max = typeof body.maxEvents === 'number' && Number.isInteger(body.maxEvents) && body.maxEvents >= 0 ? Math.min(body.maxEvents, 100) : 25;
      ctx.body = await streams.poll(stream.stream_id, ack, max);
    }),
  );
}
