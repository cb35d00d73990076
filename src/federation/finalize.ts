// The one place that turns an upstream Identity into this browser's broker session: account id, session record (one per browser), vault, cookie and audit.
import type { Context } from 'koa';
import type { Identity } from '../connectors/connector.js';
import { accountIdFor } from '../connectors/claims.js';
import type { BrokerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { newSessionId } from '../session/federated-session.js';
import { brokerClaims } from '../session/account-claims.js';
import { readSessionCookie, setSessionCookie } from './session-cookie.js';
import type { PendingLogin } from './transactions.js';

export interface FinalizeRequest {
  clientId: string;
}

/**
 * The id of the session this login creates. A browser holds at most one federated session: signing in again as the
 * same account replaces the session in place (same id, so the grants it issued stay with it and end with it);
 * signing in as another account ends the browser's previous session first (its tokens die with it).
 */
async function sessionIdFor(broker: BrokerContext, ctx: Context, accountId: string): Promise<{ id: string; replacesInPlace: boolean }> {
  const pointer = readSessionCookie(ctx);
  const previous = pointer ? await broker.sessions.get(pointer.accountId, pointer.sessionId) : undefined;
  if (previous?.accountId === accountId) return { id: previous.id, replacesInPlace: true };
  if (previous) await broker.terminate(previous, 'replaced', { ip: ctx.ip, requestId: ctx.state.requestId });
  return { id: newSessionId(), replacesInPlace: false };
}

/** A locked account (`vestibule accounts lock`) does not sign in: audited with the lock's reason, the user sees "account locked". */
async function refuseLockedAccount(broker: BrokerContext, ctx: Context, accountId: string, connectorId: string, clientId: string): Promise<void> {
  const lock = await broker.locks.get(accountId);
  if (!lock) return;
  broker.auditor.record({ event: 'login.failure', outcome: 'failure', reason: 'account_locked', accountId, clientId, connectorId, ip: ctx.ip, requestId: ctx.state.requestId });
  throw new HttpError(403, 'account_locked', `account ${accountId} is locked: ${lock.reason}`);
}

export async function finalizeLogin(broker: BrokerContext, ctx: Context, identity: Identity, request: FinalizeRequest): Promise<PendingLogin> {
  const now = broker.now();
  const accountId = accountIdFor(identity.connectorId, identity.subject);
  await refuseLockedAccount(broker, ctx, accountId, identity.connectorId, request.clientId);
  const { id: sessionId, replacesInPlace } = await sessionIdFor(broker, ctx, accountId);
  const { upstreamTokens, ...storedIdentity } = identity;
  await broker.sessions.save(
    { id: sessionId, accountId, connectorId: identity.connectorId, identity: storedIdentity, createdAt: now, lastVerifiedAt: now },
    { accountId, connectorId: identity.connectorId, claims: brokerClaims(identity), updatedAt: now },
  );
  // A replaced session's upstream tokens are superseded by this login's (or dropped when it brought none).
  if (upstreamTokens) await broker.vault.save(sessionId, identity.connectorId, upstreamTokens);
  else if (replacesInPlace) await broker.vault.delete(sessionId);
  setSessionCookie(ctx, { accountId, sessionId }, broker.config.tokens.sessionTtl * 1000);
  broker.auditor.record({
    event: 'login.success',
    outcome: 'success',
    accountId,
    clientId: request.clientId,
    connectorId: identity.connectorId,
    ip: ctx.ip,
    requestId: ctx.state.requestId,
  });
  return { accountId, acr: identity.acr, amr: identity.amr, ts: identity.authTime ?? Math.floor(now / 1000), sessionId };
}
