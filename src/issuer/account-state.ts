// Wraps findAccount: at an authorization it also reads the browser's own federated session record, which the access and mfa checks judge (one store turn with the account).
import type { KoaContextWithOIDC } from 'oidc-provider';
import { readSessionCookie } from '../federation/session-cookie.js';
import type { FederatedSession, SessionRepository } from '../session/federated-session.js';
import type { BrokerAccount } from './accounts.js';

/** The account with the browser's own federated session record, when the request came from a browser holding one. */
export interface BrowserAccount extends BrokerAccount {
  browserSession?: FederatedSession;
}

type FindAccount = (ctx: KoaContextWithOIDC, accountId: string, token?: { grantId?: string }) => Promise<BrokerAccount | undefined>;

/**
 * Token uses (code, refresh, userinfo) go to findAccount unchanged: it refuses a locked account (a high risk locks it)
 * and a token whose session has ended (a high risk ends them all), never judging the request's address.
 */
export function withBrowserSession(findAccount: FindAccount, sessions: Pick<SessionRepository, 'get'>): FindAccount {
  return async function findAccountWithSession(ctx, accountId, token) {
    if (token !== undefined) return findAccount(ctx, accountId, token);
    const pointer = readSessionCookie(ctx);
    const [account, session] = await Promise.all([findAccount(ctx, accountId), pointer?.accountId === accountId ? sessions.get(accountId, pointer.sessionId) : undefined]);
    if (!account) return undefined;
    const withSession: BrowserAccount = session ? { ...account, browserSession: session } : account;
    return withSession;
  };
}
