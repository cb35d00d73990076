// How many runs a property makes (its bounded default, times PROPERTY_RUNS_FACTOR for a deeper search) and how long its test may take.
const raw = Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);
const factor = Number.isFinite(raw) && raw > 0 ? raw : 1;

export function runs(defaultRuns: number): number {
  return Math.ceil(defaultRuns * factor);
}

/** A property test's time limit: a hang guard far above its run time on a loaded machine, not a speed check. */
export const PROPERTY_TEST_TIMEOUT_MS = Math.ceil(180_000 * factor);
