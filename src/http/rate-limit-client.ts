// The client a token or introspection request authenticates as, checked before oidc-provider runs, so only a client proving its secret spends (and can exhaust) its own budget.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import { HttpError } from './errors.js';

/** oidc-provider reads at most this much of a body (lib/shared/selective_body.js); a larger one it refuses itself. */
const OIDC_BODY_LIMIT = 56 * 1024;

/** Configured confidential clients: client id -> secret. */
export type ClientSecrets = ReadonlyMap<string, string>;

/** The confidential clients' secrets, from the configured clients. */
export function clientSecrets(clients: readonly { clientId: string; clientSecret?: string }[]): ClientSecrets {
  return new Map(clients.flatMap((client) => (client.clientSecret ? [[client.clientId, client.clientSecret] as const] : [])));
}

const digest = (value: string) => createHash('sha256').update(value).digest();

function secretMatches(secrets: ClientSecrets, clientId: string, secret: string): boolean {
  const expected = secrets.get(clientId);
  // Compared as digests: equal lengths, and the time taken says nothing about the secret.
  return expected !== undefined && timingSafeEqual(digest(expected), digest(secret));
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

/** Reads the whole body, bounded; resolves undefined when it is larger than oidc-provider accepts. */
function readRaw(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= OIDC_BODY_LIMIT) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > OIDC_BODY_LIMIT ? undefined : Buffer.concat(chunks, size)));
    req.on('error', (error) => reject(new HttpError(400, 'missing_fields', `request body incomplete: ${error.message}`)));
  });
}

/**
 * The authenticated client id of a token / introspection request, or undefined (public client, JWT assertion, wrong
 * or missing secret): such requests spend only the per-IP budget. A urlencoded body is read here, then handed to
 * oidc-provider as the already-read body it accepts (selective_body.js uses `req.body` when the stream is consumed).
 */
export async function authenticatedClient(ctx: Context, secrets: ClientSecrets): Promise<string | undefined> {
  const authorization = ctx.get('authorization');
  if (authorization) {
    const basic = basicCredentials(authorization);
    return basic && secretMatches(secrets, basic.clientId, basic.secret) ? basic.clientId : undefined;
  }
  if (!ctx.is('application/x-www-form-urlencoded')) return undefined;
  const declared = ctx.request.length;
  if (declared !== undefined && declared > OIDC_BODY_LIMIT) return undefined;
  const raw = await readRaw(ctx.req);
  if (!raw) throw new HttpError(413, 'payload_too_large', `body over ${OIDC_BODY_LIMIT} bytes`);
  const text = raw.toString('utf8');
  (ctx.req as IncomingMessage & { body?: string }).body = text;
  const form = new URLSearchParams(text);
  const clientId = form.getAll('client_id');
  const secret = form.getAll('client_secret');
  // A repeated parameter is refused by oidc-provider; here it authenticates no one.
  if (clientId.length !== 1 || secret.length !== 1) return undefined;
  return secretMatches(secrets, clientId[0]!, secret[0]!) ? clientId[0] : undefined;
}
