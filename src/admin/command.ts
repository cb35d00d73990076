// The shape of one admin command (`vestibule <group> <name>`), its usage errors (exit 2) and its output (text or --json).
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface AdminCommand {
  /** The words after `vestibule`, e.g. "keys rotate". */
  path: string;
  summary: string;
  /** Printed by --help and after a usage error. */
  usage: string;
  /** Exit code: 0 done, 1 a problem found (invalid configuration, nothing to act on, refused), 2 bad usage. */
  run(args: readonly string[]): Promise<number>;
}

/** Bad arguments: the dispatcher prints the message and the command's usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parses options strictly (an unknown option or a missing value is a UsageError); `--json` is always accepted. */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(args: readonly string[], options: T, positionals: { min: number; max: number }) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...options, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const count = parsed.positionals.length;
  if (count < positionals.min) throw new UsageError(`missing argument${positionals.min - count > 1 ? 's' : ''}`);
  if (count > positionals.max) throw new UsageError(`unexpected argument "${String(parsed.positionals[positionals.max]).slice(0, 64)}"`);
  return parsed;
}

/** Writes the result: JSON (one line) with --json, otherwise the text lines. */
export function output(json: boolean, value: unknown, text: () => string[]): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : text().map((line) => `${line}\n`).join(''));
}

/** A problem worth exit 1: said on stderr (and as {"error"} on stdout with --json). */
export function problem(json: boolean, code: string, message: string): number {
  if (json) process.stdout.write(`${JSON.stringify({ error: code, message })}\n`);
  process.stderr.write(`${message}\n`);
  return 1;
}

export const isoDate = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
