// Interaction routes: choose an upstream, the local login form, consent, finish and abort, all bound to oidc-provider's interaction.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { accountIdFor } from '../../connectors/claims.js';
import { isPasswordConnector } from '../../connectors/connector.js';
import type { BrokerContext } from '../../context.js';
import { allowedConnectors, chooseConnector } from '../../federation/choose.js';
import { DENY_CODES, finalizeLogin } from '../../federation/finalize.js';
import { requestFacts } from '../../federation/risk-facts.js';
import type { DenyReason } from '../../risk/types.js';
import { renderLoginForm, startUpstream, type InteractionView } from '../../federation/start.js';
import { startReauthentication } from '../../federation/upstream-reauth.js';
import { UPSTREAM_REAUTH } from '../../issuer/interaction-policy.js';
import { csrfToken } from '../csrf.js';
import { HttpError } from '../errors.js';
import { finishInteraction, loadInteraction, MAX_FIELD, postedForm, viewOf } from './interaction-details.js';
import { awaitsSecondFactor, finishSignIn, showStepUp, stepUpContext } from './step-up-page.js';

/** The consent page's "not you?": the same authorization request again with prompt=login, so another account can sign in. */
function switchAccountHref(params: Record<string, unknown>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (typeof value === 'string' && name !== 'prompt') query.set(name, value);
  query.set('prompt', 'login');
  return `/auth?${query}`;
}

/** A self-stated client name longer than this is cut: it is shown, never trusted. */
const MAX_STATED_NAME = 100;

function hostOf(uri: unknown): string | undefined {
  try {
    return typeof uri === 'string' ? new URL(uri).host || undefined : undefined;
  } catch {
    return undefined;
  }
}

/** The host without its port: a website on another port of the same host is the same site. */
const hostnameOf = (host: string | undefined) => host?.replace(/:\d+$/, '');

/**
 * Who asks, for the consent page. A configured client is named by the operator. A registered or metadata-document client
 * names itself: its `client_name` is shown marked as the application's own words, beside the host the broker can vouch for
 * (the https client_id that served the document, else the redirect URI's) and the host of the `client_uri` it states.
 */
async function requester(broker: BrokerContext, view: InteractionView, params: Record<string, unknown>) {
  const clientId = view.clientId;
  const host = hostOf(clientId.startsWith('https://') ? clientId : params.redirect_uri);
  if (broker.clients.has(clientId)) return { clientName: view.clientName, clientHost: host };
  const client = (await broker.provider.Client.find(clientId)) as { clientName?: unknown; clientUri?: unknown } | undefined;
  const statedName = typeof client?.clientName === 'string' && client.clientName.trim() ? client.clientName.trim().slice(0, MAX_STATED_NAME) : undefined;
  const websiteHost = hostOf(client?.clientUri);
  return { clientName: statedName ?? view.clientName, clientHost: host, nameStated: statedName !== undefined, websiteHost, websiteElsewhere: websiteHost !== undefined && hostnameOf(websiteHost) !== hostnameOf(host) };
}

function allowedFor(broker: BrokerContext, clientId: string) {
  return allowedConnectors([...broker.connectors.values()], broker.clients.get(clientId)?.allowedProviders);
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
        ...(await requester(broker, view, details.params)),
        account: typeof shownAs === 'string' ? shownAs : details.session?.accountId,
        switchAccountHref: switchAccountHref(details.params),
        scopes,
      });
      return;
    }
    // A second factor is due (the mfa prompt, or this interaction's sign-in waiting on one): the factor page, in this response.
    if (awaitsSecondFactor(details)) {
      const { session, factors } = await stepUpContext(broker, ctx, details);
      return showStepUp(broker, ctx, details, session, { records: factors });
    }
    if (details.prompt.name === 'access') {
      // Refused by the access policy or the risk level: a clear page; its way back ends the request with access_denied.
      const reason = String((details.prompt.details as { reason?: unknown }).reason ?? 'access_denied');
      const code = DENY_CODES[reason as DenyReason] ?? 'access_refused';
      ctx.state.backTo = { name: view.clientName, url: `/interaction/${view.uid}/abort` };
      throw new HttpError(403, code, `authorization refused for ${view.clientId}: ${reason}`);
    }
    // A marked session (and nothing else) asks for login: the browser goes through its upstream, no broker page.
    const reasons = (details.prompt as { reasons?: string[] }).reasons ?? [];
    if (reasons.length === 1 && reasons[0] === UPSTREAM_REAUTH && (await startReauthentication(broker, ctx, view, details.session?.accountId))) return;
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
    // Smart lockout: a sign-in locked for this browser's origin (an unfamiliar device after many failures) is refused before the password is checked.
    const subject = connector.subjectOf?.(username);
    const accountId = subject === undefined ? undefined : accountIdFor(connector.id, subject);
    const deviceId = requestFacts(broker, ctx).deviceId;
    const lockout = accountId ? await broker.risk.lockoutState(accountId, deviceId) : undefined;
    if (accountId && lockout?.locked) {
      const reason = lockout.kind === 'account' ? 'account_locked' : 'sign_in_locked';
      broker.auditor.record({ event: 'login.failure', outcome: 'failure', reason, accountId, clientId: view.clientId, connectorId: connector.id, ip: ctx.ip, requestId: ctx.state.requestId, details: { origin: lockout.origin } });
      return renderLoginForm(broker, ctx, connector, view, { error: broker.renderer.errorMessage(ctx, DENY_CODES[reason]), username, status: 403 });
    }
    // Counted before the password is checked, so parallel guesses cannot overtake the limit; a username and its email count as one.
    // The username's budget is kept per origin, as the smart lockout's: guesses from unfamiliar devices never spend the owner's known device's budget.
    const throttleKey = `${connector.loginKey?.(username) ?? username}\u0000${lockout?.origin ?? 'unfamiliar'}`;
    if (!(await broker.throttle.reserve(connector.id, throttleKey, ctx.ip))) {
      broker.auditor.record({ event: 'login.failure', outcome: 'failure', reason: 'throttled', clientId: view.clientId, connectorId: connector.id, ip: ctx.ip, requestId: ctx.state.requestId });
      ctx.set('Retry-After', String(broker.throttle.retryAfterSeconds));
      return renderLoginForm(broker, ctx, connector, view, { error: broker.renderer.errorMessage(ctx, 'too_many_attempts'), username, status: 429 });
    }
    const identity = await connector.login(username, password);
    if (!identity) {
      broker.auditor.record({ event: 'login.failure', outcome: 'failure', reason: 'invalid_credentials', accountId, clientId: view.clientId, connectorId: connector.id, ip: ctx.ip, requestId: ctx.state.requestId, details: { username: username.slice(0, 128) } });
      const failure = accountId ? await broker.risk.recordFailedSignIn({ accountId, ip: ctx.ip, ...(deviceId ? { deviceId } : {}), clientId: view.clientId, connectorId: connector.id, requestId: ctx.state.requestId }) : undefined;
      const locked = failure?.state.locked === true;
      return renderLoginForm(broker, ctx, connector, view, { error: broker.renderer.errorMessage(ctx, locked ? 'account_locked_unfamiliar' : 'invalid_credentials'), username, status: locked ? 403 : 401 });
    }
    await broker.throttle.succeeded(connector.id, throttleKey, ctx.ip);
    const scopes = typeof view.params.scope === 'string' ? view.params.scope.split(' ').filter(Boolean) : undefined;
    const pending = await finalizeLogin(broker, ctx, identity, { clientId: view.clientId, ...(scopes ? { scopes } : {}) });
    await finishSignIn(broker, ctx, details, pending);
  });

  router.get('/interaction/:uid/finish', async (ctx) => {
    const details = await loadInteraction(broker, ctx);
    const pending = await broker.transactions.takeResult(String(ctx.params.uid));
    if (!pending) throw new HttpError(400, 'transaction_not_found', 'no pending login for this interaction');
    if (pending.keepLogin) return finishInteraction(ctx, details, {});
    await finishSignIn(broker, ctx, details, pending);
  });

  router.post('/interaction/:uid/consent', async (ctx) => {
    const form = await postedForm(broker, ctx);
    const details = await loadInteraction(broker, ctx);
    if (details.prompt.name !== 'consent' || !details.session) throw new HttpError(400, 'interaction_expired', 'no consent pending');
    const clientId = String(details.params.client_id);
    const accountId = details.session.accountId;
    if (form.decision !== 'allow') {
      broker.auditor.record({ event: 'consent.granted', outcome: 'failure', reason: 'denied_by_user', accountId, clientId, ip: ctx.ip, requestId: ctx.state.requestId });
      return finishInteraction(ctx, details, { error: 'access_denied', error_description: 'the user denied consent' });
    }
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
    if (!grant) throw new HttpError(400, 'interaction_expired', 'grant not found');
    const prompt = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(' '));
    if (prompt.missingOIDCClaims) grant.addOIDCClaims(prompt.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    broker.auditor.record({ event: 'consent.granted', outcome: 'success', accountId, clientId, ip: ctx.ip, requestId: ctx.state.requestId, details: { scopes: (prompt.missingOIDCScope ?? []).join(' ') } });
    await finishInteraction(ctx, details, { consent: { grantId } }, true);
  });

  router.get('/interaction/:uid/abort', async (ctx) => {
    const details = await loadInteraction(broker, ctx);
    // Leaving a refusal page (access policy, risk) tells the application why; anything else is the user's cancel.
    const refused = details.prompt.name === 'access';
    broker.auditor.record({ event: 'login.failure', outcome: 'failure', reason: refused ? 'access_refused' : 'aborted_by_user', accountId: details.session?.accountId, clientId: String(details.params.client_id), ip: ctx.ip, requestId: ctx.state.requestId });
    const description = refused ? 'the access policy or the risk level refused the authorization' : 'the user cancelled the sign-in';
    await finishInteraction(ctx, details, { error: 'access_denied', error_description: description });
  });
}
