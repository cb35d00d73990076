// Interaction routes: choose an upstream, the local login form, consent, finish and abort, all bound to oidc-provider's interaction.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { isPasswordConnector } from '../../connectors/connector.js';
import type { BrokerContext } from '../../context.js';
import { allowedConnectors, chooseConnector } from '../../federation/choose.js';
import { finalizeLogin } from '../../federation/finalize.js';
import { renderLoginForm, startUpstream, type InteractionView } from '../../federation/start.js';
import { csrfToken, csrfValid } from '../csrf.js';
import { HttpError } from '../errors.js';
import { backToApplication } from '../views.js';
import { readForm } from '../form.js';

const MAX_FORM_BYTES = 16 * 1024;
const MAX_FIELD = 1024;

async function loadInteraction(broker: BrokerContext, ctx: Context) {
  try {
    const details = await broker.provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid) throw new Error('uid does not match the interaction cookie');
    pageState(broker, ctx, details);
    return details;
  } catch (error) {
    if ((error as Error).name === 'StoreUnavailableError') throw error;
    await backToFromStoredInteraction(broker, ctx);
    throw new HttpError(400, 'interaction_expired', (error as Error).message);
  }
}

/**
 * An interaction this browser has no cookie for (another browser, a cleared cookie) may still be stored: its error page
 * then links back to the application that started it. Best effort: a malformed uid or a store failure leaves no link.
 */
async function backToFromStoredInteraction(broker: BrokerContext, ctx: Context): Promise<void> {
  const uid = String(ctx.params.uid);
  if (!/^[\w-]{1,64}$/.test(uid)) return;
  try {
    const stored = await broker.provider.Interaction.find(uid);
    if (stored?.params) pageState(broker, ctx, { uid, params: stored.params as Record<string, unknown> });
  } catch {
    // The error page shows its general next step instead.
  }
}

/** What every page of this interaction shows: the way back to the application, the language switch's target, the client's ui_locales. */
function pageState(broker: BrokerContext, ctx: Context, details: { uid: string; params: Record<string, unknown> }) {
  const clientId = String(details.params.client_id);
  const redirectUri = typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : undefined;
  ctx.state.backTo = backToApplication(broker.clients.get(clientId)?.name ?? clientId, redirectUri, new URL(broker.config.issuer).origin);
  ctx.state.langPath = `/interaction/${details.uid}`;
  ctx.state.uiLocales = details.params.ui_locales;
}

/** The consent page's "not you?": the same authorization request again with prompt=login, so another account can sign in. */
function switchAccountHref(params: Record<string, unknown>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (typeof value === 'string' && name !== 'prompt') query.set(name, value);
  query.set('prompt', 'login');
  return `/auth?${query}`;
}

function hostOf(uri: unknown): string | undefined {
  try {
    return typeof uri === 'string' ? new URL(uri).host || undefined : undefined;
  } catch {
    return undefined;
  }
}

function viewOf(broker: BrokerContext, details: Awaited<ReturnType<typeof loadInteraction>>): InteractionView {
  const clientId = String(details.params.client_id);
  return { uid: details.uid, params: details.params, clientId, clientName: broker.clients.get(clientId)?.name ?? clientId };
}

function allowedFor(broker: BrokerContext, clientId: string) {
  return allowedConnectors([...broker.connectors.values()], broker.clients.get(clientId)?.allowedProviders);
}

async function postedForm(broker: BrokerContext, ctx: Context): Promise<Record<string, string>> {
  const form = await readForm(ctx, MAX_FORM_BYTES);
  if (!csrfValid(broker.config.cookieKeys[0]!, String(ctx.params.uid), form.csrf)) throw new HttpError(403, 'csrf', 'missing or wrong CSRF token');
  return form;
}

function renderChoose(broker: BrokerContext, ctx: Context, view: InteractionView, connectors: ReturnType<typeof allowedFor>, error?: string, status = 200, email = '') {
  broker.renderer.render(
    ctx,
    'choose',
    {
      uid: view.uid,
      csrf: csrfToken(broker.config.cookieKeys[0]!, view.uid),
      clientName: view.clientName,
      providers: connectors.map((c) => ({ id: c.id, name: c.displayName })),
      hasDomains: connectors.some((c) => c.domains.length > 0),
      error,
      email,
    },
    status,
  );
}

export function interactionRoutes(router: Router, broker: BrokerContext): void {
  const { provider } = broker;

  router.get('/interaction/:uid', async (ctx) => {
    const details = await loadInteraction(broker, ctx);
    const view = viewOf(broker, details);
    if (details.prompt.name === 'consent') {
      const missing = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
      const scopes = missing.length ? missing : String(details.params.scope ?? 'openid').split(' ');
      const account = details.session ? await broker.sessions.account(details.session.accountId) : undefined;
      const shownAs = account?.claims.email ?? account?.claims.preferred_username ?? account?.claims.name;
      broker.renderer.render(ctx, 'consent', {
        uid: view.uid,
        csrf: csrfToken(broker.config.cookieKeys[0]!, view.uid),
        clientName: view.clientName,
        // A metadata-document client is known by its https client_id, the host that served the document (draft-ietf-oauth-client-id-metadata-document).
        clientHost: hostOf(String(details.params.client_id).startsWith('https://') ? details.params.client_id : details.params.redirect_uri),
        account: typeof shownAs === 'string' ? shownAs : details.session?.accountId,
        switchAccountHref: switchAccountHref(details.params),
        scopes,
      });
      return;
    }
    const allowed = allowedFor(broker, view.clientId);
    const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : undefined;
    const choice = chooseConnector(allowed, { idpHint: typeof details.params.idp_hint === 'string' ? details.params.idp_hint : undefined, email: hint });
    if (choice.kind === 'error') throw new HttpError(400, choice.code, `client ${view.clientId}: ${choice.code}`);
    if (choice.kind === 'ask') return renderChoose(broker, ctx, view, choice.connectors);
    await startUpstream(broker, ctx, choice.connector, view);
  });

  router.post('/interaction/:uid/choose', async (ctx) => {
    const form = await postedForm(broker, ctx);
    const details = await loadInteraction(broker, ctx);
    const view = viewOf(broker, details);
    const allowed = allowedFor(broker, view.clientId);
    if (form.connector) {
      const connector = allowed.find((c) => c.id === form.connector);
      if (!connector) throw new HttpError(400, 'unknown_provider', `connector ${form.connector.slice(0, 64)} not allowed for ${view.clientId}`);
      return startUpstream(broker, ctx, connector, view);
    }
    const email = (form.email ?? '').trim().slice(0, MAX_FIELD);
    if (!email) return renderChoose(broker, ctx, view, allowed, broker.renderer.errorMessage(ctx, 'missing_fields'), 400);
    const choice = chooseConnector(allowed, { email });
    if (choice.kind === 'connector') return startUpstream(broker, ctx, choice.connector, { ...view, params: { ...view.params, login_hint: email } });
    return renderChoose(broker, ctx, view, choice.kind === 'ask' && choice.connectors.length < allowed.length ? choice.connectors : allowed, broker.renderer.errorMessage(ctx, 'no_provider_for_domain'), 400, email);
  });

  router.post('/interaction/:uid/login', async (ctx) => {
    const form = await postedForm(broker, ctx);
    const details = await loadInteraction(broker, ctx);
    const view = viewOf(broker, details);
    const connector = allowedFor(broker, view.clientId).find((c) => c.id === form.connector);
    if (!connector || !isPasswordConnector(connector)) throw new HttpError(400, 'unknown_provider', 'login form for a connector without passwords');
    const username = (form.username ?? '').trim();
    const password = form.password ?? '';
    if (!username || !password || username.length > MAX_FIELD || password.length > MAX_FIELD) {
      return renderLoginForm(broker, ctx, connector, view, { error: broker.renderer.errorMessage(ctx, 'missing_fields'), username: username.slice(0, MAX_FIELD), status: 400 });
    }
    // Counted before the password is checked, so parallel guesses cannot overtake the limit; a username and its email count as one.
    const throttleKey = connector.loginKey?.(username) ?? username;
    if (!(await broker.throttle.reserve(connector.id, throttleKey, ctx.ip))) {
      broker.auditor.record({ event: 'login.failure', outcome: 'failure', reason: 'throttled', clientId: view.clientId, connectorId: connector.id, ip: ctx.ip, requestId: ctx.state.requestId });
      ctx.set('Retry-After', String(broker.throttle.retryAfterSeconds));
      return renderLoginForm(broker, ctx, connector, view, { error: broker.renderer.errorMessage(ctx, 'too_many_attempts'), username, status: 429 });
    }
    const identity = await connector.login(username, password);
    if (!identity) {
      broker.auditor.record({ event: 'login.failure', outcome: 'failure', reason: 'invalid_credentials', clientId: view.clientId, connectorId: connector.id, ip: ctx.ip, requestId: ctx.state.requestId, details: { username: username.slice(0, 128) } });
      return renderLoginForm(broker, ctx, connector, view, { error: broker.renderer.errorMessage(ctx, 'invalid_credentials'), username, status: 401 });
    }
    await broker.throttle.succeeded(connector.id, throttleKey, ctx.ip);
    const pending = await finalizeLogin(broker, ctx, identity, { clientId: view.clientId });
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: pending.accountId, acr: pending.acr, amr: pending.amr, ts: pending.ts } }, { mergeWithLastSubmission: false });
  });

  router.get('/interaction/:uid/finish', async (ctx) => {
    await loadInteraction(broker, ctx);
    const pending = await broker.transactions.takeResult(String(ctx.params.uid));
    if (!pending) throw new HttpError(400, 'transaction_not_found', 'no pending login for this interaction');
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: pending.accountId, acr: pending.acr, amr: pending.amr, ts: pending.ts } }, { mergeWithLastSubmission: false });
  });

  router.post('/interaction/:uid/consent', async (ctx) => {
    const form = await postedForm(broker, ctx);
    const details = await loadInteraction(broker, ctx);
    if (details.prompt.name !== 'consent' || !details.session) throw new HttpError(400, 'interaction_expired', 'no consent pending');
    const clientId = String(details.params.client_id);
    const accountId = details.session.accountId;
    if (form.decision !== 'allow') {
      broker.auditor.record({ event: 'consent.granted', outcome: 'failure', reason: 'denied_by_user', accountId, clientId, ip: ctx.ip, requestId: ctx.state.requestId });
      await provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user denied consent' }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
    if (!grant) throw new HttpError(400, 'interaction_expired', 'grant not found');
    const prompt = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(' '));
    if (prompt.missingOIDCClaims) grant.addOIDCClaims(prompt.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    broker.auditor.record({ event: 'consent.granted', outcome: 'success', accountId, clientId, ip: ctx.ip, requestId: ctx.state.requestId, details: { scopes: (prompt.missingOIDCScope ?? []).join(' ') } });
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  });

  router.get('/interaction/:uid/abort', async (ctx) => {
    const details = await loadInteraction(broker, ctx);
    broker.auditor.record({ event: 'login.failure', outcome: 'failure', reason: 'aborted_by_user', clientId: String(details.params.client_id), ip: ctx.ip, requestId: ctx.state.requestId });
    await provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }, { mergeWithLastSubmission: false });
  });
}
