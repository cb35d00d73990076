// findAccount: serves the claims of an account while it has a live federated session (no session, no tokens).
import type { KoaContextWithOIDC, Account } from 'oidc-provider';
import type { SessionRepository } from '../session/federated-session.js';

export const SCOPE_CLAIMS = {
  // acr, amr and auth_time ride with openid so every ID token carries how and when the user authenticated.
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: ['name', 'preferred_username'],
  email: ['email', 'email_verified'],
  groups: ['groups'],
} as const;

/** A refresh_token grant is where upstream tokens are refreshed and sessions re-confirmed with their upstream. */
function isRefreshGrant(ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc?.route === 'token' && ctx.oidc.params?.grant_type === 'refresh_token';
}

export function createFindAccount(sessions: SessionRepository, now: () => number, reverify: (accountId: string) => Promise<number>) {
  return async function findAccount(ctx: KoaContextWithOIDC, accountId: string): Promise<Account | undefined> {
    const [account, live] = await Promise.all([
      sessions.account(accountId),
      isRefreshGrant(ctx) ? reverify(accountId) : sessions.sessionsOf(accountId, now()).then((ids) => ids.length),
    ]);
    // Ended upstream (SAML SLO, logout, refused refresh, expiry): refresh, userinfo and silent re-authorization all stop.
    if (!account || live === 0) return undefined;
    return {
      accountId,
      async claims() {
        return { ...account.claims, sub: accountId };
      },
    };
  };
}
