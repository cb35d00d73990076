// Reads an application/x-www-form-urlencoded body with a size limit; anything else is refused.
import type { Context } from 'koa';
import { HttpError } from './errors.js';

export async function readForm(ctx: Context, limitBytes: number): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new HttpError(415, 'missing_fields', 'expected an urlencoded form');
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limitBytes) throw new HttpError(413, 'payload_too_large', `content-length ${declared} over ${limitBytes}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) {
      ctx.req.unpipe();
      ctx.set('Connection', 'close');
      throw new HttpError(413, 'payload_too_large', `body over ${limitBytes} bytes`);
    }
    chunks.push(chunk);
  }
  const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const out: Record<string, string> = {};
  for (const [key, value] of params) if (!(key in out)) out[key] = value;
  return out;
}
