// One audit record per risk decision: level, score, signals, rule and action (no tokens, no cookie values, no header values).
import type { Auditor } from '../audit/auditor.js';
import type { RiskDecision, RiskInput } from './types.js';

/** "network.untrusted+20,device.new+20" (weights signed, at most 500 characters). */
export function signalList(decision: Pick<RiskDecision, 'signals'>): string {
  return decision.signals
    .map(({ signal, weight }) => `${signal}${weight >= 0 ? '+' : ''}${weight}`)
    .join(',')
    .slice(0, 500);
}

export function auditDecision(auditor: Pick<Auditor, 'record'>, input: RiskInput, decision: RiskDecision): void {
  auditor.record({
    event: 'risk.evaluated',
    outcome: decision.action === 'deny' ? 'failure' : 'success',
    level: decision.action === 'deny' || decision.level !== 'low' ? 'warn' : 'info',
    accountId: input.accountId,
    clientId: input.clientId,
    connectorId: input.connectorId,
    ip: input.ip,
    ...(input.requestId ? { requestId: input.requestId } : {}),
    ...(decision.reason ? { reason: decision.reason } : {}),
    details: {
      phase: input.phase,
      level: decision.level,
      score: decision.score,
      action: decision.action,
      rule: decision.rule,
      signals: signalList(decision),
      knownDevice: decision.device.known,
      origin: decision.origin,
      upstreamMfa: decision.upstreamMfa,
      ...(decision.requiredAcr ? { requiredAcr: decision.requiredAcr } : {}),
      ...(decision.stepUpCauses.length > 0 ? { stepUpCauses: decision.stepUpCauses.join(',') } : {}),
    },
  });
}
