// POST /backchannel-logout/:connectorId: an upstream OP's logout token (OIDC Back-Channel Logout 1.0 §2.5); 200 when accepted, 400 with an OAuth-style error otherwise; every refusal audited.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ConnectorError } from '../../connectors/connector.js';
import type { BrokerContext } from '../../context.js';
import { handleBackchannelLogout } from '../../federation/backchannel-logout.js';
import type { EndContext } from '../../session/terminate.js';
import { HttpError } from '../errors.js';
import { readForm } from '../form.js';

/** Logout tokens are small JWTs; anything larger is refused before it is parsed. */
const MAX_TOKEN_CHARS = 16 * 1024;

export function backchannelLogoutRoutes(router: Router, broker: BrokerContext): void {
  /** The form's logout_token; 400 when missing or too long, 413 / 415 from readForm. */
  const readToken = async (ctx: Context): Promise<string> => {
    const form = await readForm(ctx, Math.min(broker.config.maxBodyBytes, MAX_TOKEN_CHARS + 1024));
    const token = form.logout_token;
    if (!token || token.length > MAX_TOKEN_CHARS) throw new ConnectorError('invalid_request', 'logout_token missing or too long', { status: 400 });
    return token;
  };

  router.post('/backchannel-logout/:connectorId', async (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store');
    const context: EndContext = { ip: ctx.ip, requestId: ctx.state.requestId };
    try {
      const token = await readToken(ctx).catch((error: unknown) => {
        // Refused before the token reaches handleBackchannelLogout (which audits its own outcomes): audited here.
        if (error instanceof ConnectorError || error instanceof HttpError) {
          const connectorId = String(ctx.params.connectorId).slice(0, 64);
          broker.auditor.record({ event: 'upstream.backchannel_logout', outcome: 'failure', reason: error.code, connectorId, ...context, details: { detail: error.detail.slice(0, 200) } });
        }
        throw error;
      });
      await handleBackchannelLogout(broker, String(ctx.params.connectorId), token, context);
      ctx.status = 200;
      ctx.body = '';
    } catch (error) {
      if (!(error instanceof ConnectorError) && !(error instanceof HttpError)) throw error;
      ctx.status = error.status;
      ctx.body = { error: error.status === 404 ? 'not_found' : 'invalid_request', error_description: error.status === 400 ? 'the logout token is not valid' : error.code };
      broker.logger.warn({ code: error.code, detail: error.detail.slice(0, 200), connectorId: String(ctx.params.connectorId).slice(0, 64) }, 'back-channel logout refused');
    }
  });
}
