// Device-posture signal: a 0-100 score from the configured header, believed only when the request came through a trusted proxy.
import type { SignalHit } from '../types.js';

/** The score, or undefined when absent, malformed, or not from a trusted proxy (a client could send the header itself). */
export function postureScore(headerValue: string | undefined, fromTrustedProxy: boolean): number | undefined {
  if (!fromTrustedProxy || headerValue === undefined) return undefined;
  const match = /^\s*(\d{1,3})\s*$/.exec(headerValue);
  const score = match ? Number(match[1]) : NaN;
  return score >= 0 && score <= 100 ? score : undefined;
}

export function postureSignal(score: number | undefined, minScore: number): SignalHit[] {
  return score !== undefined && score < minScore ? [{ signal: 'posture.low', detail: String(score) }] : [];
}
