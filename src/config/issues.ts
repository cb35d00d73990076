// Turns zod issues into "json.path: message" lines so one run can report every configuration problem.
import type { z } from 'zod';

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

export function zodIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path);
    const where = prefix ? (path === '(root)' ? prefix : `${prefix}.${path}`) : path;
    return `${where}: ${issue.message}`;
  });
}

/** The JSON path (or variable name) a "path: message" problem is about. */
export const problemPath = (problem: string) => problem.slice(0, problem.indexOf(': '));

/** Drops schema problems at paths already reported as an unset "$ENV" reference (their value is only a placeholder). */
export function withoutUnresolved(problems: string[], referenceProblems: readonly string[]): string[] {
  const unresolved = new Set(referenceProblems.map(problemPath));
  return problems.filter((problem) => !unresolved.has(problemPath(problem)));
}

/** Thrown by loadConfig with every problem found. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
  }
}
