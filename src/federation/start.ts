// Sends the user to the chosen upstream: the login form for password connectors, a redirect or auto-POST for the others.
import type { Context } from 'koa';
import { ConnectorError, isPasswordConnector, isRedirectConnector, type Connector } from '../connectors/connector.js';
import type { BrokerContext } from '../context.js';
import { csrfToken } from '../http/csrf.js';
import { HttpError } from '../http/errors.js';
import { bindBrowser } from './browser-binding.js';
import { newState, type ReauthTarget } from './transactions.js';

/** The parts of oidc-provider's interaction details the start step reads. */
export interface InteractionView {
  uid: string;
  params: Record<string, unknown>;
  clientId: string;
  clientName: string;
}

export function renderLoginForm(broker: BrokerContext, ctx: Context, connector: Connector, view: InteractionView, extra: { error?: string; username?: string; status?: number } = {}): void {
  broker.renderer.render(
    ctx,
    'login',
    {
      uid: view.uid,
      csrf: csrfToken(broker.config.cookieKeys[0]!, view.uid),
      connectorId: connector.id,
      providerName: connector.displayName,
      clientName: view.clientName,
      username: extra.username ?? (typeof view.params.login_hint === 'string' ? view.params.login_hint : ''),
      error: extra.error,
    },
    extra.status ?? 200,
  );
}

/** Sends the browser to the connector; with `reauth`, a round trip that confirms that session (IsPassive, or ForceAuthn for `force`). */
export async function startUpstream(broker: BrokerContext, ctx: Context, connector: Connector, view: InteractionView, reauth?: ReauthTarget): Promise<void> {
  if (isPasswordConnector(connector)) {
    renderLoginForm(broker, ctx, connector, view);
    return;
  }
  if (!isRedirectConnector(connector)) throw new HttpError(500, 'server_error', `connector ${connector.id} cannot start a login`);
  const { params } = view;
  const state = newState();
  const maxAge = params.max_age === undefined ? undefined : Number(params.max_age);
  const start = await connector
    .startLogin({
    interactionUid: view.uid,
    callbackUrl: `${broker.config.issuer}/callback/${connector.id}`,
    state,
    loginHint: typeof params.login_hint === 'string' ? params.login_hint : undefined,
    acrValues: typeof params.acr_values === 'string' ? params.acr_values.split(' ').filter(Boolean) : undefined,
    maxAge: Number.isInteger(maxAge) ? maxAge : undefined,
    forceLogin: reauth?.mode === 'force' || (typeof params.prompt === 'string' && params.prompt.split(' ').includes('login')),
    passive: reauth?.mode === 'passive',
    })
    .catch((error: unknown) => {
      if (error instanceof ConnectorError) {
        broker.auditor.record({ event: 'login.failure', outcome: 'failure', reason: error.code, clientId: view.clientId, connectorId: connector.id, ip: ctx.ip, requestId: ctx.state.requestId, details: { detail: error.detail.slice(0, 200) } });
      }
      throw error;
    });
  await broker.transactions.save(state, {
    uid: view.uid,
    connectorId: connector.id,
    clientId: view.clientId,
    data: start.transactionData,
    binding: bindBrowser(ctx, broker.config.tokens.interactionTtl * 1000),
    createdAt: broker.now(),
    ...(reauth ? { reauth } : {}),
  });
  if (start.redirectUrl) {
    ctx.status = 303;
    ctx.redirect(start.redirectUrl);
  } else if (start.postForm) {
    broker.renderer.render(ctx, 'saml-post', { action: start.postForm.action, fields: start.postForm.fields });
  } else throw new HttpError(500, 'server_error', `connector ${connector.id} returned no redirect`);
}
