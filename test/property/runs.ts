// How a property runs: its bounded run count (times PROPERTY_RUNS_FACTOR for a deeper search), a failure's seed and path to replay (PROPERTY_SEED, PROPERTY_PATH), and its test's time limit.
const raw = Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);
const factor = Number.isFinite(raw) && raw > 0 ? raw : 1;

/** The seed and path fast-check printed with a counterexample, when given: the run replays it instead of a random search. */
function replay(): { seed?: number; path?: string } {
  const seed = process.env.PROPERTY_SEED;
  if (seed === undefined || seed === '') return {};
  if (!/^-?\d+$/.test(seed)) throw new Error(`PROPERTY_SEED must be the integer seed fast-check printed, not ${JSON.stringify(seed)}`);
  const path = process.env.PROPERTY_PATH;
  return { seed: Number(seed), ...(path ? { path } : {}) };
}

/** fast-check parameters: `defaultRuns` runs (times the factor), from a random seed unless PROPERTY_SEED replays one. */
export function runParameters(defaultRuns: number): { numRuns: number; seed?: number; path?: string } {
  return { numRuns: Math.ceil(defaultRuns * factor), ...replay() };
}

/** A property test's time limit: a hang guard far above its run time on a loaded machine, not a speed check. */
export const PROPERTY_TEST_TIMEOUT_MS = Math.ceil(180_000 * factor);
