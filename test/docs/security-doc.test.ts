// docs/security.md cannot rot silently: every ASVS requirement once, every "tested" row naming a real test, every link a real section.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { namesTest, testTitles } from './test-titles.js';

const DOC = 'docs/security.md';
const doc = readFileSync(DOC, 'utf8');
const readme = readFileSync('README.md', 'utf8');

/**
 * ASVS 5.0.0 (github.com/OWASP/ASVS, tag v5.0.0_release): for each section of V6, V7 and V10, the level of each of its
 * requirements in order ("122" for 6.1: 6.1.1 is L1, 6.1.2 and 6.1.3 are L2).
 */
const ASVS_LEVELS: Record<string, string> = {
  '6.1': '122', '6.2': '111111112222', '6.3': '11223333', '6.4': '112233', '6.5': '22222333', '6.6': '2223', '6.7': '33', '6.8': '2222',
  '7.1': '222', '7.2': '1111', '7.3': '22', '7.4': '11222', '7.5': '223', '7.6': '22',
  '10.1': '22', '10.2': '223', '10.3': '22223', '10.4': '1111122222233333', '10.5': '22222', '10.6': '22', '10.7': '222',
};
const EXPECTED = new Map<string, string>(Object.entries(ASVS_LEVELS).flatMap(([section, levels]) => [...levels].map((level, i) => [`${section}.${i + 1}`, level] as const)));

const COLUMNS = ['ASVS', 'L', 'Requirement', 'Status', 'How the broker meets it, or why not', 'Test file', 'Test title'];
const STATUSES = new Set(['tested', 'met, not tested', 'partly met', 'not met', 'not applicable', 'documented']);
const NONE = '—';

interface Row {
  line: number;
  cellCount: number;
  id: string;
  level: string;
  requirement: string;
  status: string;
  how: string;
  file: string;
  title: string;
}

const cells = (line: string) => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((cell) => cell.trim());
const unquote = (cell: string) => cell.replace(/^`(.*)`$/, '$1');

/** Every table row whose first cell is an ASVS id, with the header of each such table checked against COLUMNS. */
function requirementRows(markdown: string): { rows: Row[]; headers: string[][] } {
  const lines = markdown.split('\n');
  const rows: Row[] = [];
  const headers: string[][] = [];
  lines.forEach((line, index) => {
    if (!line.startsWith('|')) return;
    const row = cells(line);
    if (row[0] === 'ASVS') headers.push(row);
    if (!/^\d+\.\d+\.\d+$/.test(row[0]!)) return;
    const [id, level, requirement, status, how, file, title] = row as [string, string, string, string, string, string, string];
    rows.push({ line: index + 1, cellCount: row.length, id, level, requirement, status, how, file: unquote(file ?? ''), title: title ?? '' });
  });
  return { rows, headers };
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens; headings inside code fences are not headings. */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (heading) found.add(heading[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'));
  }
  return found;
}

const { rows, headers } = requirementRows(doc);
const at = (row: Row) => `${DOC}:${row.line} (${row.id})`;

describe('docs/security.md', () => {
  it('lists every requirement of ASVS 5.0 V6, V7 and V10 exactly once, at its level, in tables of the documented columns', () => {
    expect(headers.length).toBe(3);
    for (const header of headers) expect(header).toEqual(COLUMNS);
    expect(rows.filter((row) => row.cellCount !== COLUMNS.length).map(at)).toEqual([]);
    const ids = rows.map((row) => row.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    expect(new Set(ids)).toEqual(new Set(EXPECTED.keys()));
    expect(rows.filter((row) => row.level !== EXPECTED.get(row.id)).map(at)).toEqual([]);
  });

  it('gives every requirement a known status, a paraphrase and a reason; documentation rows link to their section', () => {
    const problems = rows.flatMap((row) => [
      ...(STATUSES.has(row.status) ? [] : [`${at(row)}: unknown status "${row.status}"`]),
      ...(row.requirement.length > 10 ? [] : [`${at(row)}: no requirement text`]),
      ...(row.how.length > 10 ? [] : [`${at(row)}: no reason`]),
      ...(row.status !== 'documented' || /\]\(#[^)]+\)/.test(row.how) ? [] : [`${at(row)}: documented, but links to no section`]),
    ]);
    expect(problems).toEqual([]);
  });

  it('names, for every tested row, a test file that exists and a test title that occurs in it (and checks any other test named)', () => {
    const problems = rows.flatMap((row) => {
      const named = row.file !== NONE || row.title !== NONE;
      if (row.status === 'tested' && !named) return [`${at(row)}: tested, but names no test`];
      if (!named) return [];
      if (!row.file.startsWith('test/') || !existsSync(row.file)) return [`${at(row)}: no test file ${row.file}`];
      return namesTest(readFileSync(row.file, 'utf8'), row.title) ? [] : [`${at(row)}: no test titled "${row.title}" in ${row.file}`];
    });
    expect(problems).toEqual([]);
    // Not vacuous: the tables were read and hold tested rows.
    expect(rows.filter((row) => row.status === 'tested').length).toBeGreaterThan(0);
  });

  it('links only to README sections and sections of this file that exist', () => {
    const readmeAnchors = anchors(readme);
    const ownAnchors = anchors(doc);
    const links = [...doc.matchAll(/\]\((\.\.\/README\.md)?#([^)]+)\)/g)].map((match) => ({ readme: Boolean(match[1]), anchor: match[2]! }));
    expect(links.filter((link) => link.readme).length).toBeGreaterThan(5);
    expect(links.filter((link) => !(link.readme ? readmeAnchors : ownAnchors).has(link.anchor))).toEqual([]);
  });

  it('lists under Open items exactly the rows not met, partly met, and met but not tested', () => {
    const openItems = doc.slice(doc.indexOf('\n## Open items'));
    const listed = (label: string) => {
      const bullet = openItems.split('\n- ').find((item) => item.startsWith(`**${label}:**`)) ?? '';
      return [...bullet.matchAll(/\b\d+\.\d+\.\d+\b/g)].map((match) => match[0]).sort();
    };
    const withStatus = (status: string) => rows.filter((row) => row.status === status).map((row) => row.id).sort();
    expect(listed('Not met')).toEqual(withStatus('not met'));
    expect(listed('Partly met')).toEqual(withStatus('partly met'));
    expect(listed("Met but not tested by the broker's own tests")).toEqual(withStatus('met, not tested'));
  });

  it('is linked from the README', () => {
    expect(readme).toContain('](docs/security.md)');
  });
});

describe('the test title check', () => {
  const sample = [
    "describe('suite', () => {",
    "  it('plain title', () => {});",
    "  it.each<[string, number]>([['case one', 1], ['case two', 2]])('table %s', () => {});",
    "  it(`the user\\'s ${'x'}`, () => {});",
    "  expect(/a/.test('not a title')).toBe(true);",
    '});',
  ].join('\n');

  it('finds literal titles of tests, suites and table-driven tests, not other calls', () => {
    expect(testTitles(sample)).toEqual(['suite', 'plain title', 'table %s', "the user's ${'x'}"]);
  });

  it('accepts a title or a case of a named table, and refuses anything else', () => {
    expect(namesTest(sample, 'plain title')).toBe(true);
    expect(namesTest(sample, 'table %s › case two')).toBe(true);
    expect(namesTest(sample, 'suite › case one')).toBe(true);
    expect(namesTest(sample, 'plain')).toBe(false);
    expect(namesTest(sample, 'case one')).toBe(false);
    expect(namesTest(sample, 'no such suite › case one')).toBe(false);
    expect(namesTest(sample, 'suite › case three')).toBe(false);
  });
});
