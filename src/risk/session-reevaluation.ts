// Risk re-evaluated at each re-verification: the session's recorded sign-in context (its signals, as weighted then) with the account's latest signals (failed sign-ins from anywhere).
import type { RiskConfig } from '../config/risk.js';
import type { SessionRisk } from '../session/federated-session.js';
import type { KeyValueStore } from '../store/store.js';
import { AccountRiskRecords } from './account-record.js';
import { levelOf } from './decide.js';
import { mergeWeights } from './score.js';
import { velocitySignal } from './signals/velocity.js';
import type { RiskLevel } from './types.js';

/** The new level of a session, the one it had, and the score and signals ("name+weight") that make it. */
export interface SessionReevaluation {
  level: RiskLevel;
  previous: RiskLevel;
  score: number;
  signals: string[];
}

export type ReevaluateSessionRisk = (session: { accountId: string; risk?: SessionRisk }) => Promise<SessionReevaluation>;

/** "device.new+30" -> the signal and its weight at sign-in; undefined for anything else. */
function parseRecorded(entry: string): { signal: string; weight: number } | undefined {
  const match = /^([a-z_.]+)([+-]\d+)$/.exec(entry);
  return match ? { signal: match[1]!, weight: Number(match[2]) } : undefined;
}

/**
 * Builds the re-evaluation. The request-bound signals of the sign-in (network, device, time, posture, geo, upstream
 * assurance) keep the weights they had; the velocity signals are replaced by the account's failed sign-ins now (the
 * address of the sign-in is not kept, so `velocity.ip` drops out). Scored against the global thresholds. (A lock on the
 * whole account ends the session before this runs: reverify.ts, `account_locked`.)
 */
export function createSessionRiskReevaluation(deps: { config: RiskConfig; store: KeyValueStore; now: () => number }): ReevaluateSessionRisk {
  const weights = mergeWeights(deps.config.weights);
  const records = new AccountRiskRecords(deps.store, deps.config.device.maxAgeDays * 86_400_000);
  return async function reevaluate(session) {
    const now = deps.now();
    const previous = session.risk?.level ?? 'low';
    const snapshot = await records.read(session.accountId);
    const recorded = (session.risk?.signals ?? []).map(parseRecorded).filter((hit): hit is { signal: string; weight: number } => hit !== undefined && !hit.signal.startsWith('velocity.'));
    const failures = snapshot.failures('familiar', now) + snapshot.failures('unfamiliar', now);
    const latest = deps.config.enabled ? velocitySignal(failures, 0, deps.config.velocity).map((hit) => ({ signal: hit.signal, weight: weights[hit.signal] })) : [];
    const contributing = [...recorded, ...latest].filter((hit) => hit.weight !== 0);
    const score = Math.max(0, Math.min(100, contributing.reduce((sum, hit) => sum + hit.weight, 0)));
    return { level: levelOf(score, deps.config.thresholds), previous, score, signals: contributing.map(({ signal, weight }) => `${signal}${weight >= 0 ? '+' : ''}${weight}`) };
  };
}
