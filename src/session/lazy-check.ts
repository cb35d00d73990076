// Lazy re-verification: a session used while overdue (userinfo, authorization) is checked first, one check across instances, the others read its outcome.
import { randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../store/store.js';
import type { FederatedSession, SessionRepository } from './federated-session.js';
import type { CheckOutcome } from './reverify.js';

export interface LazyCheckDeps {
  store: Pick<KeyValueStore, 'setIfAbsent' | 'get' | 'set' | 'deleteIfEquals'>;
  sessions: Pick<SessionRepository, 'get'>;
  /** Checks one session now (reverify.ts checkSession). */
  check: (session: FederatedSession) => Promise<CheckOutcome>;
  now: () => number;
  /** How long a claim lives if its holder dies mid-check, ms (longer than an upstream call). Default 30 s. */
  leaseMs?: number;
  /** How often a waiter re-reads the claim while another holder checks, ms. Default 50 ms. */
  pollMs?: number;
}

/** Whether the session may be used: `live` (verified, nothing to ask, or kept within the unreachable grace) or `ended`. */
export type LazyVerdict = 'live' | 'ended';

/** Checks a session first when it is overdue; answers whether it may be used. `known`: its record, when the caller has just read it. */
export type LazyCheck = (accountId: string, sessionId: string, known?: FederatedSession) => Promise<LazyVerdict>;

/** One claim per session and due time: the next due period is a new claim. */
const claimKey = (accountId: string, sessionId: string, dueAt: number) => `lazy-check:{${accountId}}:${sessionId}:${dueAt}`;
const CHECKING = 'checking:';
const OUTCOME = 'outcome:';
/** How long the holder's outcome stays readable for waiters that poll late. */
const OUTCOME_TTL_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const verdictOf = (outcome: CheckOutcome): LazyVerdict => (outcome === 'ended' || outcome === 'gone' ? 'ended' : 'live');

/**
 * Builds the lazy check. A session not yet due is answered from its record (one read). An overdue one is checked by
 * whoever claims `lazy-check:{account}:{session}:{due time}` in the store first: concurrent requests in this process share one
 * promise, other instances poll the claim until the holder writes its outcome (or the claim lapses and they take it).
 * An unreachable upstream within the grace keeps the session usable: the check rescheduled its retry.
 */
export function createLazyCheck(deps: LazyCheckDeps): LazyCheck {
  const leaseMs = deps.leaseMs ?? 30_000;
  const pollMs = deps.pollMs ?? 50;
  const inflight = new Map<string, Promise<LazyVerdict>>();

  async function checkClaimed(accountId: string, sessionId: string, dueAt: number): Promise<LazyVerdict> {
    const key = claimKey(accountId, sessionId, dueAt);
    const holder = `${CHECKING}${randomBytes(12).toString('base64url')}`;
    for (;;) {
      if (await deps.store.setIfAbsent(key, holder, leaseMs)) {
        try {
          // Re-read under the claim: the sweep or another instance may have checked it meanwhile.
          const session = await deps.sessions.get(accountId, sessionId);
          const outcome: CheckOutcome = !session ? 'gone' : (session.nextCheckAt ?? 0) > deps.now() ? 'unchanged' : await deps.check(session);
          await deps.store.set(key, `${OUTCOME}${outcome}`, OUTCOME_TTL_MS);
          return verdictOf(outcome);
        } catch (error) {
          await deps.store.deleteIfEquals(key, holder);
          throw error;
        }
      }
      const seen = await deps.store.get<string>(key);
      if (typeof seen === 'string' && seen.startsWith(OUTCOME)) return verdictOf(seen.slice(OUTCOME.length) as CheckOutcome);
      if (seen !== undefined) await sleep(pollMs);
    }
  }

  return async function lazyCheck(accountId, sessionId, known) {
    const session = known ?? (await deps.sessions.get(accountId, sessionId));
    if (!session) return 'ended';
    const dueAt = session.nextCheckAt ?? 0;
    if (dueAt > deps.now()) return 'live';
    const id = `${accountId}.${sessionId}.${dueAt}`;
    const pending = inflight.get(id);
    if (pending) return pending;
    const promise = checkClaimed(accountId, sessionId, dueAt).finally(() => inflight.delete(id));
    inflight.set(id, promise);
    return promise;
  };
}

/** How many of these live sessions (their records, just read) may still be used, each checked first when overdue (findAccount's `use` trigger). */
export async function liveAfterLazyCheck(lazyCheck: LazyCheck, sessions: readonly FederatedSession[]): Promise<number> {
  const verdicts = await Promise.all(sessions.map((session) => lazyCheck(session.accountId, session.id, session)));
  return verdicts.filter((verdict) => verdict === 'live').length;
}

/**
 * Whether an authorization may reuse a browser session: `ended`, `reauth` (marked for re-authentication: its browser
 * goes through the upstream first) or `usable`. An overdue session is checked first, which may mark it (SAML).
 */
export async function authorizationUse(
  deps: { lazyCheck: LazyCheck; sessions: Pick<SessionRepository, 'get'>; now: () => number },
  session: FederatedSession,
): Promise<'usable' | 'ended' | 'reauth'> {
  let current: FederatedSession | undefined = session;
  if ((session.nextCheckAt ?? 0) <= deps.now()) {
    if ((await deps.lazyCheck(session.accountId, session.id)) === 'ended') return 'ended';
    current = await deps.sessions.get(session.accountId, session.id);
  }
  if (!current) return 'ended';
  return current.reauth ? 'reauth' : 'usable';
}
