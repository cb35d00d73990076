// `vestibule audit verify <file>`: an intact file passes; an edit, a deletion or a reordering names the first broken record and exits 1.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { recordHash } from '../../src/audit/chain.js';
import { RotatingFileSink } from '../../src/audit/file.js';
import { auditVerifyCli, recordEvents } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vestibule-audit-verify-'));

/** A file of 8 records from one instance, and its lines. */
async function auditFile(name: string): Promise<{ path: string; lines: string[] }> {
  const path = join(dir, name);
  const sink = new RotatingFileSink({ path, maxBytes: 10 * 1024 * 1024, daily: false });
  await recordEvents([sink], 'sso-1.aaaa0001', 8).close();
  return { path, lines: readFileSync(path, 'utf8').trimEnd().split('\n') };
}

const rewrite = (path: string, lines: string[]) => writeFileSync(path, `${lines.join('\n')}\n`);

describe('audit verify on a file', () => {
  it('passes an untouched file and names its chain', async () => {
    const { path } = await auditFile('clean.jsonl');
    const result = auditVerifyCli([path]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('OK: 8 records in 1 chain(s)');
    expect(result.stdout).toContain('sso-1.aaaa0001: seq 0..7');
  });

  it('names an edited record (a changed field), even when the edit keeps valid JSON', async () => {
    const { path, lines } = await auditFile('edited.jsonl');
    lines[3] = lines[3]!.replace('"ip":"10.0.0.3"', '"ip":"10.9.9.9"');
    expect(lines[3]).toContain('10.9.9.9');
    rewrite(path, lines);
    const result = auditVerifyCli([path]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`record instance sso-1.aaaa0001 seq 3 at ${path}:4`);
    expect(result.stdout).toContain('record altered');
  });

  it('names the record after an edit whose hash was recomputed (its prev no longer matches)', async () => {
    const { path, lines } = await auditFile('rehashed.jsonl');
    const forged = { ...JSON.parse(lines[2]!), accountId: 'someone-else' };
    forged.hash = recordHash(forged);
    lines[2] = canonicalJson(forged);
    rewrite(path, lines);
    const result = auditVerifyCli([path]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`seq 3 at ${path}:4`);
    expect(result.stdout).toContain('prev does not match');
  });

  it('names the record after a deleted one', async () => {
    const { path, lines } = await auditFile('deleted.jsonl');
    lines.splice(4, 1);
    rewrite(path, lines);
    const result = auditVerifyCli([path]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`seq 5 at ${path}:5`);
    expect(result.stdout).toContain('expected seq 4 after 3');
  });

  it('names the first record out of order when two are swapped', async () => {
    const { path, lines } = await auditFile('reordered.jsonl');
    [lines[5], lines[6]] = [lines[6]!, lines[5]!];
    rewrite(path, lines);
    const result = auditVerifyCli([path]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`seq 6 at ${path}:6`);
    expect(result.stdout).toContain('expected seq 5 after 4');
  });

  it('names a deleted first record, unless --partial accepts a chain that starts later', async () => {
    const { path, lines } = await auditFile('head-deleted.jsonl');
    rewrite(path, lines.slice(1));
    const strict = auditVerifyCli([path]);
    expect(strict.status).toBe(1);
    expect(strict.stdout).toContain(`seq 1 at ${path}:1`);
    expect(strict.stdout).toContain('earlier records are missing');
    expect(auditVerifyCli(['--partial', path]).status).toBe(0);
  });

  it('names a line that is not a record, and answers --json', async () => {
    const { path, lines } = await auditFile('garbage.jsonl');
    lines.splice(2, 0, '{"event":"login.success"');
    rewrite(path, lines);
    const result = auditVerifyCli(['--json', path]);
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ ok: false, records: 2, broken: { where: `${path}:3`, reason: 'not JSON' } });
  });

  it('exits 2 on bad usage or a missing file', () => {
    expect(auditVerifyCli([]).status).toBe(2);
    expect(auditVerifyCli(['--stream', 'x']).status).toBe(2);
    const missing = auditVerifyCli([join(dir, 'nope.jsonl')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('cannot read');
  });
});
