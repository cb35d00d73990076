// The only reader of process.env: environment lookups with NAME_FILE fallbacks for secrets.
import { readFileSync } from 'node:fs';

export type Env = Readonly<Record<string, string | undefined>>;

/** The process environment, for main.ts and the CLI; everything else receives an Env explicitly. */
export function processEnv(): Env {
  return process.env;
}

/**
 * Value of NAME, else the contents of the file named by NAME_FILE (trailing newline removed).
 * Throws when NAME_FILE names a file that cannot be read.
 */
export function envValue(env: Env, name: string): string | undefined {
  const direct = env[name];
  if (direct !== undefined && direct !== '') return direct;
  const file = env[`${name}_FILE`];
  if (file === undefined || file === '') return undefined;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new Error(`${name}_FILE=${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
