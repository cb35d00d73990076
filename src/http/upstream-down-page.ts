// When a sign-in cannot start or finish because its upstream is down: a 503 page naming the provider and offering the client's others.
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { isUpstreamDown, type UpstreamDownError } from '../connectors/upstream-down.js';
import type { BrokerContext } from '../context.js';
import { allowedConnectors } from '../federation/choose.js';
import { csrfToken } from './csrf.js';
import { pageState } from './routes/interaction-details.js';

/** Retry-After when the circuit's remaining cooldown is not known (a timeout or refused connection before it opened). */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

function retryAfterSeconds(error: UpstreamDownError): number {
  return error.retryAfterMs ? Math.max(1, Math.ceil(error.retryAfterMs / 1000)) : DEFAULT_RETRY_AFTER_SECONDS;
}

/** Renders the page for the sign-in the error names; false when there is none (it expired): the general error page follows. */
async function renderPage(broker: BrokerContext, ctx: Context, error: UpstreamDownError): Promise<boolean> {
  const uid = error.interactionUid;
  const down = broker.connectors.get(error.connectorId);
  if (!uid || !down) return false;
  const interaction = await broker.provider.Interaction.find(uid);
  if (!interaction?.params) return false;
  const params = interaction.params as Record<string, unknown>;
  const clientId = String(params.client_id);
  pageState(broker, ctx, { uid, params });
  const others = allowedConnectors([...broker.connectors.values()], broker.clients.get(clientId)?.allowedProviders).filter((c) => c.id !== down.id);
  ctx.set('Retry-After', String(retryAfterSeconds(error)));
  broker.renderer.render(
    ctx,
    'upstream-down',
    {
      uid,
      csrf: csrfToken(broker.config.cookieKeys[0]!, uid),
      providerId: down.id,
      providerName: down.displayName,
      clientName: broker.clients.get(clientId)?.name ?? clientId,
      others: others.map((c) => ({ id: c.id, name: c.displayName })),
      code: error.code,
    },
    503,
  );
  return true;
}

/** Mounted inside the error handler: other errors, and outages outside a sign-in, go on to the general error page. */
export function upstreamDownPage(broker: BrokerContext): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!isUpstreamDown(error)) throw error;
      const rendered = await renderPage(broker, ctx, error).catch(() => false);
      if (!rendered) throw error;
      (ctx.state.log as Logger | undefined)?.warn({ code: error.code, detail: error.detail, status: 503, connectorId: error.connectorId }, 'sign-in refused: upstream down');
    }
  };
}
