// What every interaction route shares: the interaction this browser holds (or its error page's way back), its view, and CSRF-checked forms.
import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import type { BrokerContext } from '../../context.js';
import type { InteractionView } from '../../federation/start.js';
import { csrfValid } from '../csrf.js';
import { HttpError } from '../errors.js';
import { readForm } from '../form.js';
import { backToApplication } from '../views.js';

export const MAX_FORM_BYTES = 16 * 1024;
export const MAX_FIELD = 1024;

export async function loadInteraction(broker: BrokerContext, ctx: Context) {
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
export function pageState(broker: BrokerContext, ctx: Context, details: { uid: string; params: Record<string, unknown> }) {
  const clientId = String(details.params.client_id);
  const redirectUri = typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : undefined;
  ctx.state.backTo = backToApplication(broker.clients.get(clientId)?.name ?? clientId, redirectUri, new URL(broker.config.issuer).origin);
  ctx.state.langPath = `/interaction/${details.uid}`;
  ctx.state.uiLocales = details.params.ui_locales;
}

export type LoadedInteraction = Awaited<ReturnType<typeof loadInteraction>>;

/**
 * Stores the interaction's result on the interaction this request loaded and sends the browser to the authorization's
 * resume (what oidc-provider's interactionFinished does, without reading the interaction from the store a second time).
 * `merge` keeps what an earlier step submitted (mergeWithLastSubmission).
 */
export async function finishInteraction(ctx: Context, details: LoadedInteraction, result: InteractionResults, merge = false): Promise<void> {
  details.result = merge && !('error' in result) ? { ...details.lastSubmission, ...result } : result;
  await details.save(details.exp - Math.floor(Date.now() / 1000));
  ctx.status = 303;
  ctx.set('Location', details.returnTo);
  ctx.body = '';
}

export function viewOf(broker: BrokerContext, details: Awaited<ReturnType<typeof loadInteraction>>): InteractionView {
  const clientId = String(details.params.client_id);
  return { uid: details.uid, params: details.params, clientId, clientName: broker.clients.get(clientId)?.name ?? clientId };
}

export async function postedForm(broker: BrokerContext, ctx: Context): Promise<Record<string, string>> {
  const form = await readForm(ctx, MAX_FORM_BYTES);
  if (!csrfValid(broker.config.cookieKeys[0]!, String(ctx.params.uid), form.csrf)) throw new HttpError(403, 'csrf', 'missing or wrong CSRF token');
  return form;
}
