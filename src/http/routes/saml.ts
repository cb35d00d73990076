// SAML SP endpoints per connector: /saml/:connectorId/metadata (SP metadata) and /saml/:connectorId/slo (Single Logout).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ConnectorError } from '../../connectors/connector.js';
import { isSamlServiceProvider, type EndSessionsInput } from '../../connectors/saml.js';
import type { BrokerContext } from '../../context.js';
import type { EndContext } from '../../session/terminate.js';
import { HttpError } from '../errors.js';
import { readForm } from '../form.js';

export interface SamlRouteDeps {
  broker: Pick<BrokerContext, 'connectors' | 'renderer' | 'auditor' | 'config'>;
  /** Ends the broker sessions of that upstream NameID (and SessionIndex); returns how many ended. */
  endSessions(input: EndSessionsInput, context: EndContext): Promise<number>;
}

export function samlRoutes(router: Router, deps: SamlRouteDeps): void {
  const { broker } = deps;
  const connectorFor = (ctx: Context) => {
    const connectorId = String(ctx.params.connectorId);
    const connector = broker.connectors.get(connectorId);
    if (!connector || !isSamlServiceProvider(connector)) throw new HttpError(404, 'not_found', `no SAML connector ${connectorId.slice(0, 64)}`);
    return connector;
  };

  router.get('/saml/:connectorId/metadata', (ctx) => {
    const connector = connectorFor(ctx);
    ctx.type = 'application/samlmetadata+xml';
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = connector.spMetadata();
  });

  const slo = async (ctx: Context) => {
    const connector = connectorFor(ctx);
    const binding = ctx.method === 'POST' ? 'post' : 'redirect';
    try {
      const params: Record<string, string> = binding === 'post' ? await readForm(ctx, broker.config.maxBodyBytes) : {};
      if (binding === 'redirect') for (const [key, value] of new URLSearchParams(ctx.querystring)) if (!(key in params)) params[key] = value;
      const context: EndContext = { ip: ctx.ip, requestId: ctx.state.requestId };
      const outcome = await connector.handleSlo({ binding, params, rawQuery: ctx.querystring }, (input) => deps.endSessions(input, context));
      if (outcome.kind === 'response') {
        broker.auditor.record({ event: 'saml.logout', outcome: outcome.success ? 'success' : 'failure', connectorId: connector.id, ip: ctx.ip, requestId: ctx.state.requestId, details: { direction: 'sp-initiated' } });
        ctx.status = 303;
        // The broker's logout return point finds its pending logout by `state` (the RelayState we sent).
        const returnTo = new URL(outcome.returnTo);
        if (params.RelayState) returnTo.searchParams.set('state', params.RelayState);
        ctx.redirect(returnTo.href);
        return;
      }
      broker.auditor.record({ event: 'saml.logout', outcome: 'success', connectorId: connector.id, ip: ctx.ip, requestId: ctx.state.requestId, details: { direction: 'idp-initiated', endedSessions: outcome.endedSessions } });
      if ('redirectUrl' in outcome.message) {
        ctx.status = 303;
        ctx.redirect(outcome.message.redirectUrl);
      } else {
        broker.renderer.render(ctx, 'saml-post', { action: outcome.message.postForm.action, fields: outcome.message.postForm.fields });
      }
    } catch (error) {
      if (error instanceof ConnectorError || error instanceof HttpError) {
        broker.auditor.record({ event: 'saml.logout', outcome: 'failure', reason: error.code, connectorId: connector.id, ip: ctx.ip, requestId: ctx.state.requestId, details: { detail: error.detail.slice(0, 200) } });
        throw error instanceof HttpError ? error : new HttpError(error.status, error.code, error.detail);
      }
      throw error;
    }
  };
  router.get('/saml/:connectorId/slo', slo);
  router.post('/saml/:connectorId/slo', slo);
}
