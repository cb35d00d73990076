// POST /ssf/push/:provider: push delivery of an upstream's Security Event Tokens (RFC 8935): 202 when accepted, 400 with {err, description} otherwise.
import { timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { SetError } from '../../ssf/set.js';
import { SetBusyError, type SsfReceiver } from '../../ssf/receiver.js';
import { HttpError } from '../errors.js';
import { readTypedBody } from './ssf-body.js';

/** SETs are small JWTs; anything larger is refused before it is read. */
const MAX_SET_BYTES = 16 * 1024;

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

export function ssfReceiverRoutes(router: Router, receiver: SsfReceiver, logger: Logger): void {
  router.post('/ssf/push/:provider', async (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store');
    const provider = String(ctx.params.provider).slice(0, 64);
    const config = receiver.configOf(provider);
    if (!config?.push) {
      ctx.status = 404;
      ctx.body = { err: 'invalid_request', description: 'no SSF receiver for this provider' };
      return;
    }
    const context = { ip: ctx.ip, requestId: ctx.state.requestId as string | undefined };
    try {
      if (config.pushAuthorization && !sameSecret(ctx.get('authorization'), config.pushAuthorization)) {
        receiver.refused(provider, 'push_unauthenticated', context);
        ctx.status = 401;
        ctx.body = { err: 'authentication_failed', description: 'missing or wrong Authorization header' };
        return;
      }
      const token = (await readTypedBody(ctx, 'application/secevent+jwt', MAX_SET_BYTES)).trim();
      await receiver.receive(config, token, context);
      // RFC 8935 §2.2: 202 Accepted with no content (set after the body: Koa turns a null body into 204).
      ctx.body = '';
      ctx.status = 202;
    } catch (error) {
      if (error instanceof HttpError) {
        receiver.refused(provider, error.code, context);
        ctx.status = error.status;
        ctx.body = { err: 'invalid_request', description: error.code };
        return;
      }
      if (error instanceof SetBusyError) {
        // Another delivery of this SET is being applied: the transmitter's retry will be answered 202 or 400 replayed.
        ctx.status = 503;
        ctx.set('Retry-After', '5');
        ctx.body = '';
        return;
      }
      if (!(error instanceof SetError)) throw error;
      // RFC 8935 §2.4: the error code names the problem class; the detail stays in the log and the audit trail.
      ctx.status = 400;
      ctx.body = { err: error.err, description: error.reason };
      logger.warn({ reason: error.reason, detail: error.detail, provider }, 'security event token refused');
    }
  });
}
