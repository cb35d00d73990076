// Test helpers for the audit trail: run `vestibule audit verify`, and make chained records from Auditors writing to real sinks.
import { spawnSync } from 'node:child_process';
import { pino } from 'pino';
import { Auditor } from '../../src/audit/auditor.js';
import type { AuditSink } from '../../src/audit/events.js';

/** Runs the real command line: `vestibule audit verify <args>`. */
export function auditVerifyCli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'audit', 'verify', ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export const silent = pino({ level: 'silent' });

/** An Auditor on the given sinks, recording `count` varied events. */
export function recordEvents(sinks: AuditSink[], instance: string, count: number, now: () => number = Date.now): Auditor {
  const auditor = new Auditor(sinks, silent, now, instance);
  for (let i = 0; i < count; i += 1) {
    auditor.record(
      i % 3 === 0
        ? { event: 'login.failure', outcome: 'failure', reason: 'invalid_credentials', clientId: 'app', connectorId: 'local', ip: `10.0.0.${i % 250}`, details: { username: `user${i}` } }
        : { event: 'login.success', outcome: 'success', accountId: `acct-${i}`, clientId: 'app', connectorId: 'local', ip: '10.0.0.1' },
    );
  }
  return auditor;
}
