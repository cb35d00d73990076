// Upstream callbacks (/callback/:connectorId, GET or POST): load the one-time transaction, let the connector validate, finalize.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ConnectorError, isRedirectConnector, isUnsolicitedResponseConnector } from '../../connectors/connector.js';
import type { BrokerContext } from '../../context.js';
import { finalizeLogin } from '../../federation/finalize.js';
import { isBrokerState } from '../../federation/transactions.js';
import { setSessionCookie } from '../../federation/session-cookie.js';
import { HttpError } from '../errors.js';
import { readForm } from '../form.js';

function queryParams(ctx: Context): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(ctx.querystring)) if (!(key in out)) out[key] = value;
  return out;
}

export function callbackRoutes(router: Router, broker: BrokerContext): void {
  const handle = async (ctx: Context) => {
    const connectorId = String(ctx.params.connectorId);
    const connector = broker.connectors.get(connectorId);
    if (!connector || !isRedirectConnector(connector)) throw new HttpError(404, 'not_found', `no redirect connector ${connectorId.slice(0, 64)}`);
    const method = ctx.method === 'POST' ? 'POST' : 'GET';
    const audit = (reason: string, clientId?: string, detail?: string) =>
      broker.auditor.record({ event: 'upstream.callback.rejected', outcome: 'failure', reason, connectorId, clientId, ip: ctx.ip, requestId: ctx.state.requestId, ...(detail ? { details: { detail: detail.slice(0, 200) } } : {}) });
    // An oversized or non-form body is refused before the transaction is read, and audited like any other rejection.
    const params =
      method === 'POST'
        ? await readForm(ctx, broker.config.maxBodyBytes).catch((error: unknown) => {
            if (error instanceof HttpError) audit(error.code, undefined, error.detail);
            throw error;
          })
        : queryParams(ctx);
    const state = params.state ?? params.RelayState;
    const transaction = state ? await broker.transactions.take(state) : undefined;
    // A state in the broker's own format that matches nothing is a replay or an expired login, never IdP-initiated.
    const brokerState = state !== undefined && isBrokerState(state);
    if (!transaction && !brokerState && isUnsolicitedResponseConnector(connector)) {
      // IdP-initiated: never a login; the connector verifies, burns the assertion and restarts a normal flow.
      try {
        const { redirectUrl } = await connector.handleUnsolicited({ method, params, url: new URL(ctx.originalUrl, broker.config.issuer) });
        ctx.status = 303;
        ctx.redirect(redirectUrl);
        return;
      } catch (error) {
        if (error instanceof ConnectorError) audit(error.code, undefined, error.detail);
        throw error;
      }
    }
    if (!transaction) {
      audit(state ? 'transaction_not_found' : 'state_missing');
      throw new HttpError(400, 'transaction_not_found', 'no transaction for this state (expired, replayed or forged)');
    }
    if (transaction.connectorId !== connectorId) {
      audit('connector_mismatch', transaction.clientId, `transaction belongs to ${transaction.connectorId}`);
      throw new HttpError(400, 'callback_rejected', 'the transaction belongs to another connector (mix-up)');
    }
    const url = new URL(ctx.originalUrl, broker.config.issuer);
    let identity;
    try {
      identity = await connector.handleCallback({ method, params, url }, transaction.data);
    } catch (error) {
      if (error instanceof ConnectorError) audit(error.code, transaction.clientId, error.detail);
      else if ((error as Error).name !== 'StoreUnavailableError') audit('connector_failure', transaction.clientId, (error as Error).message);
      throw error;
    }
    const pending = await finalizeLogin(broker, identity, { clientId: transaction.clientId, ip: ctx.ip, requestId: ctx.state.requestId });
    await broker.transactions.saveResult(transaction.uid, pending);
    setSessionCookie(ctx, pending, broker.config.tokens.sessionTtl * 1000);
    ctx.status = 303;
    ctx.redirect(`/interaction/${transaction.uid}/finish`);
  };
  router.get('/callback/:connectorId', handle);
  router.post('/callback/:connectorId', handle);
}
