// The client a token or introspection request authenticates as, checked before oidc-provider runs, so only a client proving its secret spends (and can exhaust) its own budget.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';

/** oidc-provider reads at most this much of a body (lib/shared/selective_body.js); a larger one it refuses itself. */
const OIDC_BODY_LIMIT = 56 * 1024;

/** Configured confidential clients: client id -> SHA-256 of the secret (computed once, not per request). */
export type ClientSecrets = ReadonlyMap<string, Buffer>;

const digest = (value: string) => createHash('sha256').update(value).digest();

/** The confidential clients' secret digests, from the configured clients. */
export function clientSecrets(clients: readonly { clientId: string; clientSecret?: string }[]): ClientSecrets {
  return new Map(clients.flatMap((client) => (client.clientSecret ? [[client.clientId, digest(client.clientSecret)] as const] : [])));
}

function secretMatches(secrets: ClientSecrets, clientId: string, secret: string): boolean {
  const expected = secrets.get(clientId);
  // Compared as digests: equal lengths, and the time taken says nothing about the secret.
  return expected !== undefined && timingSafeEqual(expected, digest(secret));
}

/** RFC 6749 section 2.3.1: the Basic credentials are each form-urlencoded before being joined with ":". */
function basicCredentials(header: string): { clientId: string; secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    const unescape = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
    return { clientId: unescape(decoded.slice(0, colon)), secret: unescape(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/**
 * Reads the `length` bytes of a body and puts them back in front of the stream, so oidc-provider then reads the body
 * itself, unchanged, with its own checks (lib/shared/selective_body.js). Reading stops as soon as the declared length is
 * in hand, before the stream reports its end, which is what lets the bytes go back (`unshift`). Undefined when the
 * request ends or fails first (oidc-provider then reports the short body).
 */
function peekBody(req: IncomingMessage, length: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (body: Buffer | undefined) => {
      req.off('readable', onReadable);
      req.off('end', onEnd);
      req.off('close', onEnd);
      req.off('error', onEnd);
      if (body) req.unshift(body);
      resolve(body);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (size < length && (chunk = req.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        size += chunk.length;
      }
      if (size >= length) stop(Buffer.concat(chunks, size));
    };
    const onEnd = () => stop(undefined);
    req.on('readable', onReadable);
    req.on('end', onEnd);
    req.on('close', onEnd);
    req.on('error', onEnd);
  });
}

/**
 * The authenticated client id of a token / introspection request, or undefined (public client, JWT assertion, wrong
 * or missing secret, a body without Content-Length): such requests spend only the per-IP budget. A urlencoded body is
 * peeked at (peekBody) and left for oidc-provider to read.
 */
export async function authenticatedClient(ctx: Context, secrets: ClientSecrets): Promise<string | undefined> {
  const authorization = ctx.get('authorization');
  if (authorization) {
    const basic = basicCredentials(authorization);
    return basic && secretMatches(secrets, basic.clientId, basic.secret) ? basic.clientId : undefined;
  }
  if (!ctx.is('application/x-www-form-urlencoded')) return undefined;
  // Without a Content-Length (a chunked body) the end is only known once the stream ends, too late to put it back.
  const declared = ctx.request.length;
  if (declared === undefined || declared === 0 || declared > OIDC_BODY_LIMIT || ctx.req.readableEncoding) return undefined;
  const raw = await peekBody(ctx.req, declared);
  if (!raw) return undefined;
  const form = new URLSearchParams(raw.toString('utf8'));
  const clientId = form.getAll('client_id');
  const secret = form.getAll('client_secret');
  // A repeated parameter is refused by oidc-provider; here it authenticates no one.
  if (clientId.length !== 1 || secret.length !== 1) return undefined;
  return secretMatches(secrets, clientId[0]!, secret[0]!) ? clientId[0] : undefined;
}
