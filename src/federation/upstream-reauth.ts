// Re-authentication of a marked session through the user's browser (SAML IsPassive or ForceAuthn): sends the browser upstream, then keeps or ends the session on the answer.
import type { Context } from 'koa';
import { isBrowserReauthConnector, type Identity } from '../connectors/connector.js';
import type { BrokerContext } from '../context.js';
import { brokerClaims } from '../session/account-claims.js';
import { upstreamSubjectOf, type FederatedSession } from '../session/federated-session.js';
import { readSessionCookie } from './session-cookie.js';
import { startUpstream, type InteractionView } from './start.js';
import type { ReauthTarget, Transaction } from './transactions.js';

/**
 * The upstream's answers that refuse the round trip (the status errors of saml-response.ts): NoPassive, AuthnFailed,
 * RequestDenied, Responder, Requester or another non-success status. A forged, replayed or malformed answer is not
 * one of them: it is refused like any callback and the session stays marked.
 */
export const UPSTREAM_REFUSALS: ReadonlySet<string> = new Set(['saml_no_passive', 'saml_authn_failed', 'saml_request_denied', 'saml_status_responder', 'saml_status_requester', 'saml_status_error']);

/** What came back from the upstream: a verified identity, or a refusal (its error code). */
export type ReauthAnswer = { identity: Omit<Identity, 'upstreamTokens'> } | { refused: string };

/** One outcome per mark, whichever browser or instance finishes first. */
const finishKey = (target: ReauthTarget) => `reauth-finished:{${target.accountId}}:${target.sessionId}:${target.markAt}`;
const PENDING = 'pending';
const APPLIED = 'applied';
/** How often, and how many times at most, a round trip that lost the claim re-reads it while the holder applies its outcome. */
const POLL_MS = 50;
const MAX_POLLS = 100;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until the claim's holder has applied its outcome (or the claim is gone, or the wait runs out: a holder that died). */
async function applied(broker: BrokerContext, key: string): Promise<void> {
  for (let polls = 0; polls < MAX_POLLS && (await broker.store.get<string>(key)) === PENDING; polls++) await sleep(POLL_MS);
}

/**
 * When this browser's federated session (its broker cookie, the interaction's account) is marked for
 * re-authentication, sends the browser through its upstream (IsPassive or ForceAuthn) and answers true; false when
 * there is nothing to confirm (the session ended or was confirmed meanwhile): the login then goes on as usual.
 */
export async function startReauthentication(broker: BrokerContext, ctx: Context, view: InteractionView, accountId: string | undefined): Promise<boolean> {
  const pointer = readSessionCookie(ctx);
  if (!pointer || pointer.accountId !== accountId) return false;
  const session = await broker.sessions.get(pointer.accountId, pointer.sessionId);
  const connector = session ? broker.connectors.get(session.connectorId) : undefined;
  if (!session?.reauth || !connector || !isBrowserReauthConnector(connector)) return false;
  await startUpstream(broker, ctx, connector, view, { accountId: session.accountId, sessionId: session.id, markAt: session.reauth.at, mode: session.reauth.mode });
  return true;
}

/** The same upstream user as the session's: connector, subject and (SAML) NameID. */
function sameUser(session: FederatedSession, identity: Omit<Identity, 'upstreamTokens'>): boolean {
  const nameId = typeof identity.connectorData?.nameId === 'string' ? identity.connectorData.nameId : identity.subject;
  return identity.connectorId === session.connectorId && identity.subject === session.identity.subject && nameId === upstreamSubjectOf(session);
}

/**
 * Applies the upstream's answer once per mark (the first browser or instance to finish claims it): the same user keeps
 * the session, verified now and due again after its interval; a refusal or another user ends it
 * (upstream_reauth_failed). Then the authorization goes on: with the kept session, or to a new sign-in.
 */
export async function finishReauthentication(broker: BrokerContext, ctx: Context, transaction: Pick<Transaction, 'uid' | 'clientId' | 'reauth'>, answer: ReauthAnswer): Promise<void> {
  const target = transaction.reauth!;
  const session = await broker.sessions.get(target.accountId, target.sessionId);
  const confirmed = session !== undefined && 'identity' in answer && sameUser(session, answer.identity);
  const ttlMs = broker.config.tokens.interactionTtl * 1000;
  const claimed = session?.reauth?.at === target.markAt && (await broker.store.setIfAbsent(finishKey(target), PENDING, ttlMs));
  // Another round trip answering the same mark is applying its outcome: this one follows once it is applied.
  if (session?.reauth?.at === target.markAt && !claimed) await applied(broker, finishKey(target));
  const now = broker.now();
  const audit = { accountId: target.accountId, connectorId: session?.connectorId, clientId: transaction.clientId, ip: ctx.ip, requestId: ctx.state.requestId };
  if (session && claimed && confirmed) {
    const identity = (answer as { identity: Omit<Identity, 'upstreamTokens'> }).identity;
    await broker.sessions.save({ ...session, identity, lastVerifiedAt: now }, { accountId: session.accountId, connectorId: session.connectorId, claims: brokerClaims(identity), updatedAt: now });
    broker.auditor.record({ event: 'session.reverified', outcome: 'success', ...audit, details: { upstreamAsked: true, reauthentication: target.mode } });
    await broker.store.set(finishKey(target), APPLIED, ttlMs);
  } else if (session && claimed) {
    const reason = 'refused' in answer ? answer.refused : 'upstream_subject_mismatch';
    broker.auditor.record({ event: 'session.reverified', outcome: 'failure', reason, ...audit, details: { upstreamAsked: true, reauthentication: target.mode } });
    await broker.terminate(session, 'upstream_reauth_failed', { ip: ctx.ip, requestId: ctx.state.requestId });
    await broker.store.set(finishKey(target), APPLIED, ttlMs);
  }
  ctx.status = 303;
  if (!confirmed || !session) {
    // The interaction goes on as a new sign-in: the session is gone, so no second round trip is asked for.
    ctx.redirect(`/interaction/${transaction.uid}`);
    return;
  }
  const identity = (answer as { identity: Omit<Identity, 'upstreamTokens'> }).identity;
  await broker.transactions.saveResult(transaction.uid, {
    accountId: session.accountId,
    sessionId: session.id,
    acr: session.assurance?.acr ?? identity.acr,
    amr: session.assurance?.amr ?? identity.amr,
    ts: identity.authTime ?? session.assurance?.authTime ?? Math.floor(now / 1000),
    // Passive: nobody signed in again, so the browser's login stands as it was; ForceAuthn is a new login.
    ...(target.mode === 'passive' ? { keepLogin: true } : {}),
  });
  ctx.redirect(`/interaction/${transaction.uid}/finish`);
}
