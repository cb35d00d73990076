// What re-verifying a session means, per connector (upstream refresh, account still valid, SAML session end and browser round trip), then its risk again, with a grace for unreachable upstreams; used by the sweep and by refreshes.
import { ConnectorError, isAccountCheckConnector, isBrowserReauthConnector, isRefreshableConnector, type Identity } from '../connectors/connector.js';
import type { BrowserReauthConnector, Connector, RefreshableConnector } from '../connectors/connector.js';
import type { Auditor } from '../audit/auditor.js';
import type { AccountRecord, FederatedSession, ReauthMark, SessionRepository } from './federated-session.js';
import type { EndReason, TerminateSession } from './terminate.js';
import type { TokenVault } from './vault.js';
import { brokerClaims } from './account-claims.js';

/** Shaped like an oidc-provider error: the token endpoint answers 503 temporarily_unavailable (RFC 6749 section 5.2 spirit). */
export class UpstreamUnavailableError extends Error {
  override readonly name = 'UpstreamUnavailableError';
  readonly statusCode = 503;
  readonly expose = true;
  readonly error_description = 'the upstream identity provider could not confirm the session; try again later';
  constructor(cause: unknown) {
    super('temporarily_unavailable', { cause });
  }
}

/** Upstream answers that mean "this user's session is over" rather than "try again later". */
const SESSION_ENDING = new Set<string>(['upstream_revoked', 'upstream_subject_mismatch', 'refresh_unavailable', 'email_domain_not_allowed', 'email_not_verified', 'upstream_tokens_unreadable'] satisfies EndReason[]);

export interface ReverifyDeps {
  sessions: SessionRepository;
  vault: TokenVault;
  connectors: Map<string, Connector>;
  terminate: TerminateSession;
  auditor: Pick<Auditor, 'record'>;
  now: () => number;
  /** Re-verification interval of a connector's sessions, ms (a refresh upstream when it last answered longer ago). */
  intervalOf: (connectorId: string) => number;
  /** How long a session outlives an unreachable upstream before it ends (upstream_unreachable), ms. */
  graceMs: number;
  /** First retry after an unreachable upstream, ms; doubles with each failed check. */
  retryMs: number;
  /** Whether the account is locked (account locks); a locked account's sessions end at their next check. */
  isLocked?: (accountId: string) => Promise<boolean>;
  /** Re-scores a due session's risk with the account's latest signals (risk/session-reevaluation.ts); absent: not re-scored. */
  reevaluateRisk?: (session: FederatedSession) => Promise<{ level: RiskLevel; previous: RiskLevel; score: number; signals: string[] }>;
  /** Told when a re-evaluation changed a session's level, before a rise to high ends it (SSF risk-level-change); must not throw. */
  onRiskChange?: (session: FederatedSession, previous: RiskLevel, current: RiskLevel) => Promise<void>;
}

type RiskLevel = 'low' | 'medium' | 'high';

/**
 * What one check found: `verified` (the upstream or the configuration confirmed it), `unchanged` (nothing to ask,
 * e.g. no upstream refresh token), `marked` (its next authorization must go through the upstream, SAML), `ended`
 * (terminated), `unreachable` (kept, retried later) or `gone`.
 */
export type CheckOutcome = 'verified' | 'unchanged' | 'marked' | 'ended' | 'unreachable' | 'gone';

type Verdict =
  | { kind: 'verified'; identity?: Identity }
  | { kind: 'unchanged' }
  | { kind: 'mark'; mark: ReauthMark; until: number }
  | { kind: 'marked' }
  | { kind: 'refused'; reason: EndReason }
  | { kind: 'unreachable'; error: unknown };

/**
 * How a check asks: `force` asks the upstream even when its last answer is recent (the demo's "check now");
 * `lockRead` says the caller read the account's lock in this same request and found none (findAccount), so the check
 * does not read it again.
 */
export interface CheckOptions {
  force?: boolean;
  lockRead?: boolean;
}

/** Asks what the session's connector can answer without the user. */
async function verdictOf(deps: ReverifyDeps, connector: Connector | undefined, session: FederatedSession, options: CheckOptions): Promise<Verdict> {
  if (!connector) return { kind: 'refused', reason: 'connector_removed' };
  const { sessionNotOnOrAfter } = session.identity;
  if (sessionNotOnOrAfter !== undefined && deps.now() >= sessionNotOnOrAfter) return { kind: 'refused', reason: 'upstream_session_expired' };
  if (!options.lockRead && (await deps.isLocked?.(session.accountId))) return { kind: 'refused', reason: 'account_locked' };
  if (isAccountCheckConnector(connector)) {
    return connector.accountStillValid({ ...session.identity }) ? { kind: 'verified' } : { kind: 'refused', reason: 'account_removed' };
  }
  if (isBrowserReauthConnector(connector)) return reauthVerdict(deps, connector, session);
  if (!isRefreshableConnector(connector)) return { kind: 'unchanged' };
  return refreshVerdict(deps, connector, session, options);
}

/**
 * SAML: no back channel to ask, so a due session is marked and its next authorization goes through the IdP (the
 * browser round trip, federation/upstream-reauth.ts, clears the mark). A mark older than the grace ends the session.
 */
function reauthVerdict(deps: ReverifyDeps, connector: BrowserReauthConnector, session: FederatedSession): Verdict {
  const now = deps.now();
  const { mode, graceMs } = connector.reauthentication;
  if (!session.reauth) return { kind: 'mark', mark: { at: now, mode }, until: now + graceMs };
  return now >= session.reauth.at + graceMs ? { kind: 'refused', reason: 'upstream_reauth_timeout' } : { kind: 'marked' };
}

/** OIDC: a refresh_token grant upstream through the vault (single flight across instances), when the interval has passed. */
async function refreshVerdict(deps: ReverifyDeps, connector: RefreshableConnector, session: FederatedSession, options: CheckOptions): Promise<Verdict> {
  try {
    // Sessions without upstream tokens (no vault entry) have nothing to refresh: getFresh answers undefined.
    const fresh = await deps.vault.getFresh(session.id, connector, { ...session.identity }, { maxAgeMs: options.force ? 0 : deps.intervalOf(session.connectorId) });
    if (!fresh?.refreshed) return { kind: 'unchanged' };
    return { kind: 'verified', identity: fresh.identity };
  } catch (error) {
    if (error instanceof ConnectorError && SESSION_ENDING.has(error.code)) return { kind: 'refused', reason: error.code as EndReason };
    if (error instanceof ConnectorError) return { kind: 'unreachable', error };
    throw error;
  }
}

/**
 * Re-scores the session's risk: an unchanged level changes nothing; a changed one is audited (risk.evaluated), told
 * (SSF risk-level-change) and recorded on the session; a rise to high ends it (high_risk, risk.high audited): undefined.
 */
async function rescored(deps: ReverifyDeps, session: FederatedSession): Promise<FederatedSession | undefined> {
  if (!deps.reevaluateRisk) return session;
  const result = await deps.reevaluateRisk(session);
  if (result.level === result.previous) return session;
  const now = deps.now();
  const who = { accountId: session.accountId, connectorId: session.connectorId };
  deps.auditor.record({ event: 'risk.evaluated', outcome: 'success', ...who, details: { phase: 'reverify', level: result.level, previous: result.previous, score: result.score, signals: result.signals.join(' ') } });
  await deps.onRiskChange?.(session, result.previous, result.level);
  if (result.level === 'high') {
    deps.auditor.record({ event: 'risk.high', outcome: 'failure', level: 'error', reason: 'high_risk', ...who, details: { phase: 'reverify', severity: 'high', score: result.score } });
    await deps.terminate(session, 'high_risk');
    return undefined;
  }
  const risk = { ...(session.risk ?? { upstreamMfa: false }), level: result.level, at: now, score: result.score, signals: result.signals };
  await deps.sessions.recordRisk(session, risk);
  return { ...session, risk };
}

/** The upstream did not answer: keep the session and retry with backoff until the grace runs out, then end it. */
async function keepUnreachable(deps: ReverifyDeps, session: FederatedSession, error: unknown): Promise<CheckOutcome> {
  const now = deps.now();
  const since = session.unreachableSince ?? now;
  if (now - since >= deps.graceMs) {
    await deps.terminate(session, 'upstream_unreachable');
    return 'ended';
  }
  const attempts = (session.unreachableAttempts ?? 0) + 1;
  const backoff = Math.min(deps.retryMs * 2 ** (attempts - 1), deps.intervalOf(session.connectorId));
  const retryAt = Math.min(now + backoff, since + deps.graceMs);
  await deps.sessions.reschedule(session, retryAt, { unreachableSince: since, unreachableAttempts: attempts });
  deps.auditor.record({
    event: 'session.reverified',
    outcome: 'failure',
    reason: error instanceof ConnectorError ? error.code : 'upstream_unreachable',
    accountId: session.accountId,
    connectorId: session.connectorId,
    details: { attempts, graceLeftSeconds: Math.round((since + deps.graceMs - now) / 1000) },
  });
  return 'unreachable';
}

/**
 * Checks one session now and records the result: a confirmed session is saved as verified (due again after its
 * interval), a refused one ends through terminate(), an unreachable one is kept within the grace. A session that was
 * not due and had nothing to ask is left untouched (no write): a refresh before the interval costs one vault read.
 */
export async function checkSession(deps: ReverifyDeps, checked: FederatedSession, options: CheckOptions = {}): Promise<CheckOutcome> {
  const verdict = await verdictOf(deps, deps.connectors.get(checked.connectorId), checked, options);
  const now = deps.now();
  // A session the upstream did not refuse is re-scored when due (not at every refresh before its interval).
  const due = options.force === true || (checked.nextCheckAt ?? 0) <= now;
  const session = verdict.kind !== 'refused' && due ? await rescored(deps, checked) : checked;
  if (session === undefined) return 'ended';
  switch (verdict.kind) {
    case 'refused':
      await deps.terminate(session, verdict.reason);
      return 'ended';
    case 'unreachable':
      return keepUnreachable(deps, session, verdict.error);
    case 'marked':
      return 'marked';
    case 'mark':
      // Due again when the grace runs out: then a session whose browser never came back ends (upstream_reauth_timeout).
      if (!(await deps.sessions.reschedule(session, verdict.until, { reauth: verdict.mark, unreachableSince: null, unreachableAttempts: null }))) return 'gone';
      deps.auditor.record({
        event: 'session.reverified',
        outcome: 'success',
        accountId: session.accountId,
        connectorId: session.connectorId,
        details: { upstreamAsked: false, reauthentication: verdict.mark.mode, graceSeconds: Math.round((verdict.until - now) / 1000) },
      });
      return 'marked';
    case 'unchanged':
      if ((session.nextCheckAt ?? 0) > now && session.unreachableSince == null) return 'unchanged';
      if (!(await deps.sessions.reschedule(session, now + deps.intervalOf(session.connectorId), { unreachableSince: null, unreachableAttempts: null }))) return 'gone';
      break;
    case 'verified': {
      // The upstream answered: the session is verified now, with the claims it just gave.
      const source: Identity = verdict.identity ?? session.identity;
      const { upstreamTokens: _tokens, ...identity } = source;
      await deps.sessions.save({ ...session, identity, lastVerifiedAt: now }, { accountId: session.accountId, connectorId: session.connectorId, claims: brokerClaims(identity), updatedAt: now }, checked);
      break;
    }
  }
  deps.auditor.record({
    event: 'session.reverified',
    outcome: 'success',
    accountId: session.accountId,
    connectorId: session.connectorId,
    details: { upstreamAsked: verdict.kind === 'verified' },
  });
  return verdict.kind === 'verified' ? 'verified' : 'unchanged';
}

/**
 * Returns how many of the account's live sessions (their records, just read by findAccount) are still live, checking
 * them all at once (a refresh grant). Sessions of refreshable connectors are confirmed upstream when near token expiry or past their interval;
 * others are checked when overdue. An unreachable upstream within the grace throws (the refresh answers 503, the
 * session stays); after the grace the session ends. Its caller, findAccount, has just found the account unlocked.
 */
export async function reverifyAccount(deps: ReverifyDeps, account: AccountRecord, sessions: readonly FederatedSession[]): Promise<number> {
  // Nothing to ask without the user and nothing to mark: no read.
  const accountConnector = deps.connectors.get(account.connectorId);
  if (accountConnector && !isRefreshableConnector(accountConnector) && !isAccountCheckConnector(accountConnector) && !isBrowserReauthConnector(accountConnector)) return sessions.length;
  const outcomes = await Promise.all(
    sessions.map(async (session) => {
      const connector = deps.connectors.get(session.connectorId);
      const overdue = (session.nextCheckAt ?? 0) <= deps.now();
      if (connector && !isRefreshableConnector(connector) && !overdue) return 'unchanged';
      return checkSession(deps, session, { lockRead: true });
    }),
  );
  if (outcomes.includes('unreachable')) throw new UpstreamUnavailableError(undefined);
  return outcomes.filter((outcome) => outcome === 'verified' || outcome === 'unchanged' || outcome === 'marked').length;
}
