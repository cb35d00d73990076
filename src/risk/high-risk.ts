// The high-risk action: lock the account for a while, end every one of its sessions through terminate() (grants revoked, tokens dead), audit with severity high.
import type { Auditor } from '../audit/auditor.js';
import type { AccountLocks } from '../session/account-locks.js';
import type { SessionRepository } from '../session/federated-session.js';
import { endAccountSessions, type TerminateSession } from '../session/terminate.js';
import { signalList } from './risk-audit.js';
import type { RiskDecision, RiskInput } from './types.js';

export interface HighRiskDeps {
  locks: Pick<AccountLocks, 'lock'>;
  sessions: Pick<SessionRepository, 'sessionsOf' | 'get'>;
  terminate: TerminateSession;
  auditor: Pick<Auditor, 'record'>;
  lockMs: number;
}

export interface HighRiskOutcome {
  sessionsEnded: number;
  lockedUntil: number;
}

export const HIGH_RISK_REASON = 'high_risk';

export function createHighRiskAction(deps: HighRiskDeps): (input: RiskInput, decision: RiskDecision) => Promise<HighRiskOutcome> {
  return async function onHighRisk(input, decision) {
    // Lock first: a sign-in finishing meanwhile is refused, so no session escapes the ending below.
    const lock = await deps.locks.lock(input.accountId, HIGH_RISK_REASON, deps.lockMs);
    const context = { ip: input.ip, ...(input.requestId ? { requestId: input.requestId } : {}) };
    const sessionsEnded = (await endAccountSessions(deps, input.accountId, 'high_risk', context)).length;
    const lockedUntil = lock.expiresAt as number;
    deps.auditor.record({
      event: 'risk.high',
      outcome: 'failure',
      level: 'error',
      reason: HIGH_RISK_REASON,
      accountId: input.accountId,
      clientId: input.clientId,
      connectorId: input.connectorId,
      ...context,
      details: {
        severity: 'high',
        phase: input.phase,
        score: decision.score,
        rule: decision.rule,
        signals: signalList(decision),
        sessionsEnded,
        lockedUntil: new Date(lockedUntil).toISOString(),
      },
    });
    return { sessionsEnded, lockedUntil };
  };
}
