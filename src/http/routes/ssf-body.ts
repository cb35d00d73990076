// Reads an SSF request body of one media type (application/secevent+jwt, application/json) with a size limit.
import type { Context } from 'koa';
import { HttpError } from '../errors.js';
import { readBody } from '../form.js';

/** The body as text; 415 for another media type, 413 past the limit (the connection then closes unread). */
export async function readTypedBody(ctx: Context, mediaType: string, limitBytes: number): Promise<string> {
  if (!ctx.is(mediaType)) throw new HttpError(415, 'unsupported_media_type', `expected ${mediaType}`);
  const declared = Number(ctx.get('content-length') || 0);
  try {
    if (declared > limitBytes) throw new HttpError(413, 'payload_too_large', `content-length ${declared} over ${limitBytes}`);
    return (await readBody(ctx.req, limitBytes)).toString('utf8');
  } catch (error) {
    ctx.set('Connection', 'close');
    throw error;
  }
}

/** A JSON object body, or 400. */
export async function readJsonObject(ctx: Context, limitBytes: number): Promise<Record<string, unknown>> {
  const text = await readTypedBody(ctx, 'application/json', limitBytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_request', 'the body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'invalid_request', 'the body is not a JSON object');
  return value as Record<string, unknown>;
}
