// The property runner's replay: the seed and path fast-check prints with a counterexample, given as PROPERTY_SEED and PROPERTY_PATH, run that counterexample again.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runParameters } from './runs.js';

/** Fails for any string holding a digit after a letter: fast-check finds and shrinks a counterexample. */
const property = fc.property(fc.string({ maxLength: 20 }), (text) => !/[a-z][0-9]/.test(text));

const clearReplay = () => {
  delete process.env.PROPERTY_SEED;
  delete process.env.PROPERTY_PATH;
};
beforeEach(clearReplay);
afterEach(clearReplay);

describe('runParameters', () => {
  it('searches from a random seed by default, and PROPERTY_SEED with PROPERTY_PATH replays the printed counterexample', () => {
    expect(runParameters(10)).not.toHaveProperty('seed');
    const found = fc.check(property, runParameters(10_000));
    expect(found.failed).toBe(true);
    // What a failure prints (fast-check's report): the seed and the path of the shrunk counterexample.
    expect(fc.defaultReportMessage(found)).toContain(`seed: ${found.seed}, path: "${found.counterexamplePath}"`);
    process.env.PROPERTY_SEED = String(found.seed);
    process.env.PROPERTY_PATH = found.counterexamplePath!;
    const replayed = fc.check(property, runParameters(10_000));
    expect(replayed.failed).toBe(true);
    expect(replayed.seed).toBe(found.seed);
    expect(replayed.counterexample).toEqual(found.counterexample);
    expect(replayed.numRuns).toBe(1);
  });

  it('refuses a seed that is not an integer', () => {
    process.env.PROPERTY_SEED = 'abc';
    expect(() => runParameters(10)).toThrow(/PROPERTY_SEED/);
  });
});
