// Shared Signals peers written in the tests from the specs with jose: a transmitter (JWKS, SET signing, an RFC 8936 poll endpoint) and a receiver (RFC 8935 push endpoint validating SETs).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

export interface SetOptions {
  /** Sign with a key that is not in the JWKS but claims its kid. */
  forged?: boolean;
  typ?: string;
  iat?: number;
  iss?: string;
  aud?: string;
  jti?: string;
  extra?: JWTPayload;
}

/** A transmitter: its JWKS on a loopback server, SETs signed from the spec, and a poll endpoint (RFC 8936) that records acknowledgements. */
export async function startTestTransmitter(audience: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const { privateKey: otherKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'tx-1', alg: 'ES256', use: 'sig' };
  const issuer = 'https://transmitter.test';
  const queue = new Map<string, string>();
  const polls: { ack: string[]; setErrs?: Record<string, unknown> }[] = [];
  const server = createServer(async (req, res) => {
    if (req.url === '/jwks') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    if (req.url === '/poll' && req.method === 'POST') {
      const request = JSON.parse(await bodyOf(req)) as { ack?: string[]; setErrs?: Record<string, unknown>; maxEvents?: number };
      polls.push({ ack: request.ack ?? [], ...(request.setErrs ? { setErrs: request.setErrs } : {}) });
      for (const jti of request.ack ?? []) queue.delete(jti);
      for (const jti of Object.keys(request.setErrs ?? {})) queue.delete(jti);
      const sets = Object.fromEntries([...queue].slice(0, request.maxEvents ?? 10));
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ sets, moreAvailable: queue.size > Object.keys(sets).length }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  const url = await listen(server);

  /** One SET with one event, as SSF 1.0 profiles RFC 8417 (typ secevent+jwt, sub_id at the top level). */
  async function sign(type: string, subject: Record<string, unknown>, payload: Record<string, unknown> = {}, options: SetOptions = {}): Promise<{ token: string; jti: string }> {
    const jti = options.jti ?? randomBytes(12).toString('base64url');
    const token = await new SignJWT({ sub_id: subject, events: { [type]: { event_timestamp: Math.floor(Date.now() / 1000), ...payload } }, ...options.extra })
      .setProtectedHeader({ alg: 'ES256', kid: 'tx-1', typ: options.typ ?? 'secevent+jwt' })
      .setIssuer(options.iss ?? issuer)
      .setAudience(options.aud ?? audience)
      .setIssuedAt(options.iat ?? Math.floor(Date.now() / 1000))
      .setJti(jti)
      .sign(options.forged ? otherKey : privateKey);
    return { token, jti };
  }

  return {
    issuer,
    jwksUri: `${url}/jwks`,
    pollUrl: `${url}/poll`,
    sign,
    queue,
    polls,
    close: () => close(server),
  };
}

/** What the test receiver got: the validated SET's claims. */
export interface ReceivedSet {
  payload: JWTPayload & { sub_id?: Record<string, unknown>; events?: Record<string, Record<string, unknown>> };
  type: string;
}

/**
 * A receiver (RFC 8935 push endpoint) that validates each SET with jose against the transmitter's JWKS: signature,
 * typ secevent+jwt, iss, aud, one event. Answers 202, or 400 {err} when invalid; `script` can make it answer other statuses first.
 */
export async function startTestReceiver(options: { issuer: string; audience: string; authorization?: string }) {
  const received: ReceivedSet[] = [];
  const refused: string[] = [];
  const statuses: number[] = [];
  const script: number[] = [];
  const keys = createRemoteJWKSet(new URL(`${options.issuer}/jwks`));
  const server = createServer(async (req, res) => {
    const body = await bodyOf(req);
    const next = script.shift();
    if (next !== undefined) {
      statuses.push(next);
      res.statusCode = next;
      res.end();
      return;
    }
    try {
      if (req.headers['content-type'] !== 'application/secevent+jwt') throw new Error('content type');
      if (options.authorization && req.headers.authorization !== options.authorization) throw new Error('authorization');
      const { payload, protectedHeader } = await jwtVerify(body, keys, { issuer: options.issuer, audience: options.audience, typ: 'secevent+jwt' });
      const events = Object.keys((payload.events as object) ?? {});
      if (events.length !== 1 || typeof payload.jti !== 'string' || typeof payload.iat !== 'number' || protectedHeader.typ !== 'secevent+jwt') throw new Error('not a SET');
      received.push({ payload: payload as ReceivedSet['payload'], type: events[0]! });
      statuses.push(202);
      res.statusCode = 202;
      res.end();
    } catch (error) {
      refused.push((error as Error).message);
      statuses.push(400);
      res.statusCode = 400;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ err: 'invalid_request', description: (error as Error).message }));
    }
  });
  const url = await listen(server);
  return { url: `${url}/events`, received, refused, statuses, script, close: () => close(server) };
}
