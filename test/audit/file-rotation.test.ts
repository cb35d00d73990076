// The rotating file sink: rotates by size and at a new UTC day, and the chain runs on across the rotated files.
import { lstatSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesInOrder, RotatingFileSink, rotatedName } from '../../src/audit/file.js';
import { auditVerifyCli, recordEvents } from './helpers.js';

/** Files of the directory in the order to verify them: rotated ones (their names sort by time), then the current one. */
const inOrder = (dir: string, base: string) => filesInOrder(join(dir, base));

describe('rotating audit file', () => {
  it('rotates by size; verifying the files in order passes, one chain across them; out of order fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-audit-rotate-'));
    const path = join(dir, 'audit.jsonl');
    const sink = new RotatingFileSink({ path, maxBytes: 4096, daily: false });
    await recordEvents([sink], 'sso-1.bbbb0001', 60).close();
    const files = inOrder(dir, 'audit.jsonl');
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) expect(statSync(file).size).toBeLessThanOrEqual(4096);
    const lines = files.flatMap((file) => readFileSync(file, 'utf8').trimEnd().split('\n'));
    expect(lines.map((line) => JSON.parse(line).seq)).toEqual([...Array(60).keys()]);
    const result = auditVerifyCli(files);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('OK: 60 records in 1 chain(s)');
    const swapped = [files[1]!, files[0]!, ...files.slice(2)];
    const broken = auditVerifyCli(swapped);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toContain(`at ${files[1]}:1`);
  });

  it('rotates at the first record of a new UTC day', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-audit-daily-'));
    const path = join(dir, 'audit.jsonl');
    let now = Date.parse('2026-11-30T23:59:58Z');
    const first = new RotatingFileSink({ path, maxBytes: 10 * 1024 * 1024, daily: true }, () => now);
    const auditor = recordEvents([first], 'sso-1.cccc0001', 3, () => now);
    now = Date.parse('2026-12-01T00:00:01Z');
    auditor.record({ event: 'logout', outcome: 'success', accountId: 'acct-1' });
    auditor.record({ event: 'logout', outcome: 'success', accountId: 'acct-2' });
    await auditor.close();
    expect(readdirSync(dir).sort()).toEqual(['audit.jsonl', 'audit.jsonl.20261201T000001Z']);
    expect(readFileSync(join(dir, 'audit.jsonl.20261201T000001Z'), 'utf8').trimEnd().split('\n')).toHaveLength(3);
    expect(readFileSync(path, 'utf8').trimEnd().split('\n')).toHaveLength(2);
    expect(auditVerifyCli(inOrder(dir, 'audit.jsonl')).status).toBe(0);
  });

  it('a file left by a process on an earlier day rotates at the first record of today', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-audit-left-'));
    const path = join(dir, 'audit.jsonl');
    const yesterday = Date.parse('2026-11-30T12:00:00Z');
    await recordEvents([new RotatingFileSink({ path, maxBytes: 1 << 20, daily: true }, () => yesterday)], 'sso-1.eeee0001', 2, () => yesterday).close();
    utimesSync(path, yesterday / 1000, yesterday / 1000);
    const today = Date.parse('2026-12-01T08:00:00Z');
    await recordEvents([new RotatingFileSink({ path, maxBytes: 1 << 20, daily: true }, () => today)], 'sso-1.eeee0002', 1, () => today).close();
    expect(readdirSync(dir).sort()).toEqual(['audit.jsonl', 'audit.jsonl.20261201T080000Z']);
    expect(JSON.parse(readFileSync(path, 'utf8')).instance).toBe('sso-1.eeee0002');
  });

  it('a restart appends a new chain to the same file; both verify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-audit-restart-'));
    const path = join(dir, 'audit.jsonl');
    await recordEvents([new RotatingFileSink({ path, maxBytes: 1 << 20, daily: false })], 'sso-1.dddd0001', 4).close();
    await recordEvents([new RotatingFileSink({ path, maxBytes: 1 << 20, daily: false })], 'sso-1.dddd0002', 4).close();
    const result = auditVerifyCli([path]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('OK: 8 records in 2 chain(s)');
  });

  it('never rotates what is not a regular file (/dev/null as a discard target, here through a symlink)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-audit-devnull-'));
    const path = join(dir, 'audit.jsonl');
    symlinkSync('/dev/null', path);
    let now = Date.parse('2026-11-30T23:59:59Z');
    const sink = new RotatingFileSink({ path, maxBytes: 4096, daily: true }, () => now);
    const auditor = recordEvents([sink], 'sso-1.abab0001', 40, () => now);
    now = Date.parse('2026-12-01T00:00:01Z');
    sink.write({} as never, '{"after":"midnight"}');
    await auditor.close();
    expect(readdirSync(dir)).toEqual(['audit.jsonl']);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
  });

  it('names rotated files so they sort in time order, with a counter within one second; filesInOrder lists them oldest first', () => {
    const taken = new Set(['/a/audit.jsonl.20261201T000001Z']);
    expect(rotatedName('/a/audit.jsonl', Date.parse('2026-12-01T00:00:01.250Z'), (c) => taken.has(c))).toBe('/a/audit.jsonl.20261201T000001Z-2');
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-audit-names-'));
    const names = ['audit.jsonl', 'audit.jsonl.20261201T000001Z-10', 'audit.jsonl.20261201T000001Z-2', 'audit.jsonl.20261201T000001Z', 'audit.jsonl.20261130T235959Z', 'audit.jsonl.bak', 'other.jsonl.20261130T000000Z'];
    for (const name of names) writeFileSync(join(dir, name), '');
    expect(filesInOrder(join(dir, 'audit.jsonl')).map((path) => path.slice(dir.length + 1))).toEqual([
      'audit.jsonl.20261130T235959Z',
      'audit.jsonl.20261201T000001Z',
      'audit.jsonl.20261201T000001Z-2',
      'audit.jsonl.20261201T000001Z-10',
      'audit.jsonl',
    ]);
  });

  it('without arguments, audit verify reads the configured audit.file and its rotated files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-audit-configured-'));
    const sink = new RotatingFileSink({ path: join(dir, 'audit.jsonl'), maxBytes: 4096, daily: false });
    await recordEvents([sink], 'sso-1.cdcd0001', 40).close();
    expect(readdirSync(dir).length).toBeGreaterThan(2);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ providersDir: 'none', audit: { stdout: false, file: { path: 'audit.jsonl' } } }));
    const result = auditVerifyCli([], { BROKER_CONFIG: join(dir, 'config.json') });
    expect(result.stdout).toContain('OK: 40 records in 1 chain(s)');
    expect(result.status).toBe(0);
    writeFileSync(join(dir, 'empty.json'), JSON.stringify({ providersDir: 'none', audit: { stdout: false, file: { path: 'none.jsonl' } } }));
    const missing = auditVerifyCli([], { BROKER_CONFIG: join(dir, 'empty.json') });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`no audit file at ${join(dir, 'none.jsonl')}`);
  });
});
