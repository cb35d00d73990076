// The README's audit event table names every event the broker can record (the AuditEventName union), and no other.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The members of `export type AuditEventName = | 'a' | 'b' …;` in src/audit/events.ts (its doc comments left out). */
function declaredEvents(): string[] {
  const source = readFileSync('src/audit/events.ts', 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const union = /export type AuditEventName =([^;]*);/.exec(source)?.[1] ?? '';
  return [...union.matchAll(/\|\s*'([a-z_.]+)'/g)].map((m) => m[1]!);
}

/** The rows of the table under **Events.** in the README's Audit trail section, as their three cells. */
function eventRows(): string[][] {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('**Events.**', readme.indexOf('## Audit trail'));
  const table = readme.slice(start, readme.indexOf('**The chain.**', start));
  const lines = table.split('\n');
  // The rows below the header and its |---| line.
  return lines
    .slice(lines.findIndex((line) => line.startsWith('|---')) + 1)
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
}

describe('README audit events', () => {
  it('documents every declared event once, each row with its meaning and its reason / details', () => {
    const declared = declaredEvents();
    const rows = eventRows();
    const documented = rows.flatMap((cells) => [...cells[0]!.matchAll(/`([a-z_.]+)`/g)].map((m) => m[1]!));
    expect(declared.length).toBeGreaterThan(25);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...declared].sort());
    for (const cells of rows) {
      expect(cells, cells[0]).toHaveLength(3);
      expect(cells[1]!.length, cells[0]).toBeGreaterThan(20);
      expect(cells[2]!.length, cells[0]).toBeGreaterThan(0);
    }
  });
});
