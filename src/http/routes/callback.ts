// Upstream callbacks: /callback/:connectorId (GET or POST) verifies the answer; a login completes only in the browser that started it.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ConnectorError, isRedirectConnector, isUnsolicitedResponseConnector, type Identity } from '../../connectors/connector.js';
import type { BrokerContext } from '../../context.js';
import { isSameBrowser } from '../../federation/browser-binding.js';
import { finalizeLogin } from '../../federation/finalize.js';
import { finishReauthentication, UPSTREAM_REFUSALS } from '../../federation/upstream-reauth.js';
import { isBrokerState, parkedVaultId, type Transaction } from '../../federation/transactions.js';
import { HttpError } from '../errors.js';
import { readForm } from '../form.js';

function queryParams(ctx: Context): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(ctx.querystring)) if (!(key in out)) out[key] = value;
  return out;
}

/** The same-site GET where a login verified at a cross-site POST is completed. */
const completionPath = (connectorId: string, key: string) => `/callback/${encodeURIComponent(connectorId)}/complete?login=${key}`;

/** How long a verified login waits for its browser's completion GET (one redirect away). */
const PARKED_TTL_MS = 60_000;

export function callbackRoutes(router: Router, broker: BrokerContext): void {
  const auditor = (ctx: Context, connectorId: string) => (reason: string, clientId?: string, detail?: string) =>
    broker.auditor.record({ event: 'upstream.callback.rejected', outcome: 'failure', reason, connectorId, clientId, ip: ctx.ip, requestId: ctx.state.requestId, ...(detail ? { details: { detail: detail.slice(0, 200) } } : {}) });

  /** Refuses, before any session or cookie exists, a login this browser did not start (sign-in takeover, login CSRF). */
  function requireSameBrowser(ctx: Context, transaction: Pick<Transaction, 'binding' | 'clientId'>, audit: ReturnType<typeof auditor>): void {
    if (isSameBrowser(ctx, transaction.binding)) return;
    audit('browser_mismatch', transaction.clientId, 'the login was started in another browser (no or another binding cookie)');
    throw new HttpError(400, 'callback_wrong_browser', 'callback completed in a browser that did not start the login');
  }

  /** Creates this browser's session (or confirms the one a re-authentication asked about) and hands the result to the interaction, which the same browser resumes. */
  async function complete(ctx: Context, transaction: Pick<Transaction, 'uid' | 'clientId' | 'reauth'>, identity: Identity): Promise<void> {
    if (transaction.reauth) {
      const { upstreamTokens: _tokens, ...verified } = identity;
      return finishReauthentication(broker, ctx, transaction, { identity: verified });
    }
    // The scopes the authorization asks for: the client's access policy may depend on them (its rules' destinations).
    const interaction = await broker.provider.Interaction.find(transaction.uid);
    const scope = interaction?.params?.scope;
    const scopes = typeof scope === 'string' ? scope.split(' ').filter(Boolean) : undefined;
    const pending = await finalizeLogin(broker, ctx, identity, { clientId: transaction.clientId, ...(scopes ? { scopes } : {}) });
    await broker.transactions.saveResult(transaction.uid, pending);
    ctx.status = 303;
    ctx.redirect(`/interaction/${transaction.uid}/finish`);
  }

  const handle = async (ctx: Context) => {
    const connectorId = String(ctx.params.connectorId);
    const connector = broker.connectors.get(connectorId);
    if (!connector || !isRedirectConnector(connector)) throw new HttpError(404, 'not_found', `no redirect connector ${connectorId.slice(0, 64)}`);
    const method = ctx.method === 'POST' ? 'POST' : 'GET';
    const audit = auditor(ctx, connectorId);
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
    // A GET callback is a top-level navigation: the SameSite=Lax binding cookie arrives, so the browser is checked first.
    if (method === 'GET') requireSameBrowser(ctx, transaction, audit);
    const url = new URL(ctx.originalUrl, broker.config.issuer);
    let identity: Identity;
    try {
      identity = await connector.handleCallback({ method, params, url }, transaction.data);
    } catch (error) {
      if (error instanceof ConnectorError) audit(error.code, transaction.clientId, error.detail);
      else if ((error as Error).name !== 'StoreUnavailableError') audit('connector_failure', transaction.clientId, (error as Error).message);
      // A re-authentication the upstream refused (NoPassive...) ends the session, but only in the browser that asked.
      if (transaction.reauth && error instanceof ConnectorError && UPSTREAM_REFUSALS.has(error.code)) {
        if (method === 'GET') return finishReauthentication(broker, ctx, transaction, { refused: error.code });
        const { data: _data, ...waiting } = transaction;
        const key = await broker.transactions.park({ transaction: waiting, refused: error.code, upstreamTokensInVault: false }, PARKED_TTL_MS);
        ctx.status = 303;
        ctx.redirect(completionPath(connectorId, key));
        return;
      }
      throw error;
    }
    if (method === 'GET') return complete(ctx, transaction, identity);
    // A POST binding (SAML) is a cross-site POST: no Lax cookie arrives. The verified login waits, one-time and
    // short-lived, for the same-site GET below, where the browser is checked before anything is created.
    const { data: _data, ...waiting } = transaction;
    const { upstreamTokens, ...verified } = identity;
    const key = await broker.transactions.park({ transaction: waiting, identity: verified, upstreamTokensInVault: upstreamTokens !== undefined }, PARKED_TTL_MS);
    if (upstreamTokens) await broker.vault.save(parkedVaultId(key), connectorId, upstreamTokens);
    ctx.status = 303;
    ctx.redirect(completionPath(connectorId, key));
  };

  router.get('/callback/:connectorId/complete', async (ctx) => {
    const connectorId = String(ctx.params.connectorId);
    const audit = auditor(ctx, connectorId);
    const key = typeof ctx.query.login === 'string' ? ctx.query.login : '';
    const parked = await broker.transactions.takeParked(key);
    if (!parked || parked.transaction.connectorId !== connectorId) {
      audit('transaction_not_found', parked?.transaction.clientId);
      throw new HttpError(400, 'transaction_not_found', 'no verified login waits under this key (expired, replayed or forged)');
    }
    const vaulted = parked.upstreamTokensInVault ? await broker.vault.get(parkedVaultId(key)) : undefined;
    if (vaulted) await broker.vault.delete(parkedVaultId(key));
    requireSameBrowser(ctx, parked.transaction, audit);
    if (!parked.identity) return finishReauthentication(broker, ctx, parked.transaction, { refused: parked.refused ?? 'upstream_refused' });
    await complete(ctx, parked.transaction, { ...parked.identity, ...(vaulted ? { upstreamTokens: vaulted.tokens } : {}) });
  });
  router.get('/callback/:connectorId', handle);
  router.post('/callback/:connectorId', handle);
}
