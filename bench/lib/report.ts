// The result format every scenario prints (one JSON line per scenario, collected by bench/run-all.ts) and the table printer.
import { round } from './stats.js';

/** One figure of a scenario: the broker's value, the peer's (if any) and broker / peer. */
export interface BenchRow {
  metric: string;
  unit: string;
  broker: number | null;
  peer: number | null;
  /** broker / peer (null without a peer). */
  ratio: number | null;
  /** Human-readable target, e.g. "<= 1.3x" or ">= 1500/s/core". */
  target?: string;
  /** Whether the target is met (null/absent: no target). */
  met?: boolean | null;
  note?: string;
}

export interface BenchResult {
  /** File name without .ts, e.g. "local-login". */
  scenario: string;
  title: string;
  /** What the peer is, e.g. "bare oidc-provider, memory adapter". */
  peer?: string;
  rows: BenchRow[];
  /** How it was measured: counts, repeats, concurrency, pinning ... */
  method?: Record<string, unknown>;
}

/** The marker that makes a stdout line a result: the line starts with this and is one JSON object. */
export const RESULT_MARKER = '{"vestibuleBench":1,';

/** Prints the scenario's result line (stdout, one line). */
export function emitResult(result: BenchResult): void {
  process.stdout.write(`${JSON.stringify({ vestibuleBench: 1, ...result })}\n`);
}

/** Parses a stdout line; undefined when it is not a result line. */
export function parseResultLine(line: string): BenchResult | undefined {
  if (!line.startsWith(RESULT_MARKER)) return undefined;
  try {
    const { vestibuleBench: _version, ...result } = JSON.parse(line) as BenchResult & { vestibuleBench: number };
    return Array.isArray(result.rows) && typeof result.scenario === 'string' ? result : undefined;
  } catch {
    return undefined;
  }
}

const show = (value: number | null | undefined) => (value === null || value === undefined ? '-' : String(round(value)));

/** A plain-text (and Markdown-compatible) table of results. */
export function formatTable(results: BenchResult[]): string {
  const header = ['scenario', 'metric', 'unit', 'broker', 'peer', 'ratio', 'target', 'met'];
  const lines = results.flatMap((result) =>
    result.rows.map((row) => [
      result.scenario,
      row.metric,
      row.unit,
      show(row.broker),
      show(row.peer),
      row.ratio === null ? '-' : `${round(row.ratio, 3)}x`,
      row.target ?? '-',
      row.met === undefined || row.met === null ? '-' : row.met ? 'yes' : 'NO',
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [format(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(format)].join('\n');
}
