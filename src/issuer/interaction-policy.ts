// oidc-provider's interaction policy plus the broker's login check: an existing browser session is reused only while its federated session lives and the client allows its upstream.
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { readSessionCookie } from '../federation/session-cookie.js';
import type { BrokerAccount } from './accounts.js';

const { base, Check } = interactionPolicy;

/** Which upstream providers a client may use (undefined: every configured one). */
export type ProvidersAllowed = (clientId: string, connectorId: string) => boolean;

/**
 * The browser's federated session, as named by its broker cookie, when it belongs to the account oidc-provider's
 * session holds and has not ended. Undefined otherwise: then the browser must sign in again.
 */
export function browserSessionId(ctx: KoaContextWithOIDC): string | undefined {
  const account = ctx.oidc.account as BrokerAccount | undefined;
  const pointer = readSessionCookie(ctx);
  if (!account || !pointer || pointer.accountId !== account.accountId || pointer.accountId !== ctx.oidc.session?.accountId) return undefined;
  return account.liveSessionIds.includes(pointer.sessionId) ? pointer.sessionId : undefined;
}

/**
 * Adds to the login prompt: sign in again when the browser's federated session has ended (logout elsewhere, SAML
 * SLO, refused by its upstream, expired), when the cookie names another account's session, or when this client does
 * not allow the session's upstream. Under prompt=none that answers login_required, as the spec says.
 */
export function createInteractionPolicy(providersAllowed: ProvidersAllowed) {
  const policy = base();
  policy.get('login')!.checks.add(
    new Check('federated_session', 'the broker session is not usable for this client', 'login_required', (ctx: KoaContextWithOIDC) => {
      if (!ctx.oidc.session?.accountId) return Check.NO_NEED_TO_PROMPT; // no_session asks already
      const account = ctx.oidc.account as BrokerAccount | undefined;
      if (!account || browserSessionId(ctx) === undefined) return Check.REQUEST_PROMPT;
      return providersAllowed(ctx.oidc.client!.clientId, account.connectorId) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}
