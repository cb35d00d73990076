// Configuration tests: the problems a refused configuration lists (a load that succeeds fails the test).
import { ConfigError } from '../../src/config/issues.js';

export async function configProblems(load: () => Promise<unknown>): Promise<string[]> {
  try {
    await load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('the configuration was accepted');
}
