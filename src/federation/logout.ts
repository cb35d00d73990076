// Broker logout: ends this browser's federated session (terminate) and chains the browser through the upstream's logout.
import { randomBytes } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isLogoutConnector } from '../connectors/connector.js';
import type { BrokerContext } from '../context.js';
import { clearSessionCookie, readSessionCookie } from './session-cookie.js';

const pendingKey = (state: string) => `logout:${state}`;
/** Where each upstream sends the browser back after its logout (one path per connector, like the login callback). */
export const upstreamLogoutReturn = (connectorId: string) => `/logout/callback/${connectorId}`;

interface PendingLogout {
  connectorId: string;
  /** Where oidc-provider wanted to send the browser (the client's post_logout_redirect_uri or the success page). */
  continueTo: string;
}

/**
 * Ends this browser's federated session when it is the one oidc-provider has just signed out (`loggedOut` account);
 * returns the upstream's logout instruction, if it has one. When the cookie names another account's session, this is
 * oidc-provider ending the previous account's session after a sign-in as someone else: the new session stays.
 */
async function endFederatedSession(broker: BrokerContext, ctx: Context, loggedOut: string | undefined, continueTo: string) {
  const pointer = readSessionCookie(ctx);
  if (!pointer || pointer.accountId !== loggedOut) return undefined;
  clearSessionCookie(ctx);
  const session = await broker.sessions.get(pointer.accountId, pointer.sessionId);
  if (!session) return undefined;
  const vaulted = await broker.vault.get(session.id);
  await broker.terminate(session, 'logout', { ip: ctx.ip, requestId: ctx.state.requestId });
  const connector = broker.connectors.get(session.connectorId);
  if (!connector || !isLogoutConnector(connector)) return undefined;
  const state = randomBytes(24).toString('base64url');
  const instruction = await connector.logout({ ...session.identity, upstreamTokens: vaulted?.tokens }, `${broker.config.issuer}${upstreamLogoutReturn(connector.id)}`, state);
  if (!instruction) return undefined;
  await broker.store.set(pendingKey(state), { connectorId: connector.id, continueTo } satisfies PendingLogout, broker.config.tokens.interactionTtl * 1000);
  return instruction;
}

/**
 * Runs after oidc-provider's logout confirmation: when the user chose to sign out of everything ("yes"), the
 * federated session ends and the browser goes upstream first. "Only this app" leaves the session alone.
 */
export function upstreamLogout(broker: BrokerContext): Middleware {
  return async (ctx, next) => {
    await next();
    const oidcCtx = ctx as unknown as KoaContextWithOIDC;
    if (ctx.method !== 'POST' || oidcCtx.oidc?.route !== 'end_session_confirm' || ctx.status !== 303 || !oidcCtx.oidc.params?.logout) return;
    const continueTo = ctx.response.get('location');
    const instruction = await endFederatedSession(broker, ctx, oidcCtx.oidc.session?.accountId, continueTo);
    if (instruction?.redirectUrl) {
      ctx.status = 303;
      ctx.redirect(instruction.redirectUrl);
    } else if (instruction?.postForm) {
      broker.renderer.render(ctx, 'saml-post', { action: instruction.postForm.action, fields: instruction.postForm.fields });
    }
  };
}

/** Where upstreams send the browser back after their logout; continues to the client. */
export async function resumeAfterUpstreamLogout(broker: BrokerContext, ctx: Context, connectorId: string, state: string | undefined): Promise<boolean> {
  const pending = state ? await broker.store.take<PendingLogout>(pendingKey(state)) : undefined;
  if (!pending || pending.connectorId !== connectorId) return false;
  ctx.status = 303;
  ctx.redirect(pending.continueTo);
  return true;
}
