// Scoring, a pure function: the signals that fired and the weights give a 0-100 score and the signals that contributed to it.
import { DEFAULT_WEIGHTS, type Weights } from '../config/risk.js';
import type { ContributingSignal, SignalHit } from './types.js';

/** The defaults, then each override in turn (a signal an override leaves out keeps the weight before it). */
export function mergeWeights(...overrides: (Partial<Record<keyof Weights, number | undefined>> | undefined)[]): Weights {
  const weights: Weights = { ...DEFAULT_WEIGHTS };
  for (const override of overrides) {
    if (!override) continue;
    for (const [signal, weight] of Object.entries(override)) if (weight !== undefined) weights[signal as keyof Weights] = weight;
  }
  return weights;
}

/** Sum of the weights of the signals that fired, clamped to 0-100; a signal weighted 0 is switched off and not listed. */
export function scoreSignals(hits: readonly SignalHit[], weights: Weights): { score: number; signals: ContributingSignal[] } {
  let sum = 0;
  const signals: ContributingSignal[] = [];
  for (const hit of hits) {
    const weight = weights[hit.signal];
    if (weight === 0) continue;
    sum += weight;
    signals.push(hit.detail === undefined ? { signal: hit.signal, weight } : { signal: hit.signal, weight, detail: hit.detail });
  }
  return { score: Math.max(0, Math.min(100, sum)), signals };
}
