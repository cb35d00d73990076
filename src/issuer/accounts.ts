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

export function createFindAccount(sessions: SessionRepository, now: () => number) {
  return async function findAccount(_ctx: KoaContextWithOIDC, accountId: string): Promise<Account | undefined> {
    const [account, live] = await Promise.all([sessions.account(accountId), sessions.sessionsOf(accountId, now())]);
    // Ended upstream (SAML SLO, logout, expiry): refresh, userinfo and silent re-authorization all stop.
    if (!account || live.length === 0) return undefined;
    return {
      accountId,
      async claims() {
        return { ...account.claims, sub: accountId };
      },
    };
  };
}
