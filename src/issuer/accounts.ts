// findAccount: serves the claims that the last federated login stored for an account id.
import type { KoaContextWithOIDC, Account } from 'oidc-provider';
import type { SessionRepository } from '../session/federated-session.js';

export const SCOPE_CLAIMS = {
  // acr, amr and auth_time ride with openid so every ID token carries how and when the user authenticated.
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: ['name', 'preferred_username'],
  email: ['email', 'email_verified'],
  groups: ['groups'],
} as const;

export function createFindAccount(sessions: SessionRepository) {
  return async function findAccount(_ctx: KoaContextWithOIDC, accountId: string): Promise<Account | undefined> {
    const account = await sessions.account(accountId);
    if (!account) return undefined;
    return {
      accountId,
      async claims() {
        return { ...account.claims, sub: accountId };
      },
    };
  };
}
