// The 60-second soak: two broker processes on one Redis under mixed sign-ins, refreshes, userinfo and introspection; no 5xx, no wrong answer (no session lost); figures printed (bench/soak.ts runs the 30-minute one).
import { describe, expect, it } from 'vitest';
import { runSoak, soakMarkdown, type SoakReport } from '../../bench/lib/soak-run.js';

describe('60-second soak', () => {
  let report: SoakReport;

  it('answers every request right: no 5xx, no refused token or session; API calls in every window, local and federated sign-ins', async () => {
    report = await runSoak({ durationMs: 60_000, windowMs: 10_000, warmupMs: 20_000, concurrency: 4, lifetimeSeconds: 15 });
    console.info(soakMarkdown(report));
    expect(report.total.wrongSamples).toEqual([]);
    expect(report.total).toMatchObject({ errors5xx: 0, wrong: 0, noAnswer: 0 });
    for (const window of report.windows) expect(Object.keys(window.operations)).toEqual(expect.arrayContaining(['refresh', 'userinfo', 'introspection']));
    const signIns = (op: string) => report.windows.reduce((sum, window) => sum + (window.operations[op]?.count ?? 0), 0);
    expect(signIns('local-sign-in')).toBeGreaterThan(0);
    expect(signIns('federated-sign-in')).toBeGreaterThan(0);
  }, 180_000);
});
