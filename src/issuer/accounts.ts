// findAccount: a token is served only while the federated session that issued its grant lives; at /auth it is a lookup (the interaction policy judges the browser's session).
import type { KoaContextWithOIDC, Account } from 'oidc-provider';
import { readSessionCookie } from '../federation/session-cookie.js';
import type { AccountLocks } from '../session/account-locks.js';
import type { AccountRecord, FederatedSession, SessionRepository } from '../session/federated-session.js';
import type { GrantBindings } from '../session/grant-bindings.js';

export const SCOPE_CLAIMS = {
  // acr, amr and auth_time ride with openid so every ID token carries how and when the user authenticated.
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: ['name', 'preferred_username'],
  email: ['email', 'email_verified'],
  groups: ['groups'],
} as const;

/** The Account findAccount answers, with what the interaction policy needs to judge a session without another read. */
export interface BrokerAccount extends Account {
  connectorId: string;
  /**
   * The live sessions among those this request names: at an authorization, the one the browser's session cookie names
   * (when it is this account's); for a token, the session that issued its grant. Each is one field of the account's
   * session index, so the cost does not grow with the account's other sessions.
   */
  liveSessionIds: readonly string[];
}

/** A refresh_token grant is where upstream tokens are refreshed and sessions re-confirmed with their upstream. */
function isRefreshGrant(ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc?.route === 'token' && ctx.oidc.params?.grant_type === 'refresh_token';
}

/** Confirms live sessions of the account (their records, just read) with their upstream (`refresh`: a refresh grant; `use`: any other token use, checked when overdue); answers how many are still live. */
export type Reverify = (account: AccountRecord, sessions: readonly FederatedSession[], trigger: 'refresh' | 'use') => Promise<number>;

export interface FindAccountDeps {
  sessions: SessionRepository;
  bindings: GrantBindings;
  locks: Pick<AccountLocks, 'isLocked'>;
  now: () => number;
  reverify: Reverify;
}

function toAccount(record: AccountRecord, liveSessionIds: readonly string[]): BrokerAccount {
  return {
    accountId: record.accountId,
    connectorId: record.connectorId,
    liveSessionIds,
    async claims() {
      return { ...record.claims, sub: record.accountId };
    },
  };
}

/** The token (code, access or refresh token) findAccount is asked about, when there is one. */
interface GrantedToken {
  grantId?: string;
}

export function createFindAccount(deps: FindAccountDeps) {
  const { sessions, bindings, locks, now, reverify } = deps;
  return async function findAccount(ctx: KoaContextWithOIDC, accountId: string, token?: GrantedToken): Promise<BrokerAccount | undefined> {
    if (!token) {
      // One store turn: the account and whether the session the browser's cookie names lives.
      const pointer = readSessionCookie(ctx);
      const browserSessionId = pointer?.accountId === accountId ? pointer.sessionId : undefined;
      const [record, live] = await Promise.all([sessions.account(accountId), browserSessionId === undefined ? false : sessions.isLive(accountId, browserSessionId, now())]);
      if (!record) return undefined;
      return toAccount(record, live ? [browserSessionId!] : []);
    }
    // One store turn: the account, the session that issued the token's grant and the account's lock; then that session, if it lives.
    const [record, owner, locked] = await Promise.all([
      sessions.account(accountId),
      token.grantId ? bindings.sessionOf(accountId, token.grantId) : undefined,
      locks.isLocked(accountId),
    ]);
    if (!record || locked) return undefined;
    // Ended (logout, SLO, refused upstream, replaced, expired) or never bound: userinfo, refresh and code exchange stop.
    const session = owner === undefined ? undefined : await sessions.liveSession(accountId, owner, now());
    if (!session) return undefined;
    if ((await reverify(record, [session], isRefreshGrant(ctx) ? 'refresh' : 'use')) === 0) return undefined;
    return toAccount(record, [session.id]);
  };
}
