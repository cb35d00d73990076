// How many runs a property makes: its bounded default in npm test, times PROPERTY_RUNS_FACTOR for a deeper search on demand.
const factor = Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);

export function runs(defaultRuns: number): number {
  return Number.isFinite(factor) && factor > 0 ? Math.ceil(defaultRuns * factor) : defaultRuns;
}
