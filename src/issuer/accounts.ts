// findAccount: serves the claims of an account while it has a live federated session (no session, no tokens).
import type { KoaContextWithOIDC, Account } from 'oidc-provider';
import type { AccountRecord, SessionRepository } from '../session/federated-session.js';

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

/** Confirms the account's live sessions with their upstream; answers how many are still live. */
export type Reverify = (account: AccountRecord, sessionIds: readonly string[]) => Promise<number>;

export function createFindAccount(sessions: SessionRepository, now: () => number, reverify: Reverify) {
  return async function findAccount(ctx: KoaContextWithOIDC, accountId: string): Promise<Account | undefined> {
    const [account, sessionIds] = await Promise.all([sessions.account(accountId), sessions.sessionsOf(accountId, now())]);
    // Ended upstream (SAML SLO, logout, refused refresh, expiry): refresh, userinfo and silent re-authorization all stop.
    if (!account || sessionIds.length === 0) return undefined;
    if (isRefreshGrant(ctx) && (await reverify(account, sessionIds)) === 0) return undefined;
    return {
      accountId,
      async claims() {
        return { ...account.claims, sub: accountId };
      },
    };
  };
}
