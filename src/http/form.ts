// Reads an application/x-www-form-urlencoded body with a size limit; anything else is refused.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import { HttpError } from './errors.js';

/**
 * Collects the body, refusing it once it passes the limit, whether or not a Content-Length was sent (chunked bodies).
 * Listens to events rather than `for await`: leaving a `for await` early destroys the request, which destroys the
 * socket and detaches `req.socket`, so the 413 could not be answered reliably and Koa's `ctx.ip` threw (a 500 with no
 * audit event). Here the request is only paused; the response carries `Connection: close` and Node closes the socket
 * once the answer is written, without reading the rest of the body.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const fail = (error: HttpError) => {
      stop();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        req.pause();
        fail(new HttpError(413, 'payload_too_large', `body over ${limitBytes} bytes`));
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => fail(new HttpError(400, 'missing_fields', `request body incomplete: ${error.message}`));
    const onClose = () => fail(new HttpError(400, 'missing_fields', 'request body incomplete: the connection closed'));
    if (req.readableEnded || req.destroyed) return reject(new HttpError(400, 'missing_fields', 'request body already read'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export async function readForm(ctx: Context, limitBytes: number): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new HttpError(415, 'missing_fields', 'expected an urlencoded form');
  const declared = Number(ctx.get('content-length') || 0);
  let body: Buffer;
  try {
    if (declared > limitBytes) throw new HttpError(413, 'payload_too_large', `content-length ${declared} over ${limitBytes}`);
    body = await readBody(ctx.req, limitBytes);
  } catch (error) {
    // The unread rest of the body is not drained: the connection ends with this answer.
    ctx.set('Connection', 'close');
    throw error;
  }
  const params = new URLSearchParams(body.toString('utf8'));
  const out: Record<string, string> = {};
  for (const [key, value] of params) if (!(key in out)) out[key] = value;
  return out;
}
