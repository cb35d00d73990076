// The hash chain's pure parts: canonical JSON is order-independent and exact, and an added or edited key changes the hash.
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { GENESIS, HashChain, recordHash } from '../../src/audit/chain.js';
import { verifyChain } from '../../src/audit/verify.js';

describe('audit hash chain', () => {
  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 'x' }, z: undefined })).toBe('{"a":{"c":"x","d":[2,{"e":0,"f":1}]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });

  it('links records: seq from 0, prev is the previous hash, hash covers every field; the line parses back to the record', () => {
    const chain = new HashChain('sso-1.00000001');
    const first = chain.append({ timestamp: '2026-12-01T00:00:00.000Z', level: 'info', event: 'logout', outcome: 'success' });
    const second = chain.append({ timestamp: '2026-12-01T00:00:01.000Z', level: 'warn', event: 'login.failure', outcome: 'failure', details: { username: 'bob' } });
    expect(first.record).toMatchObject({ instance: 'sso-1.00000001', seq: 0, prev: GENESIS });
    expect(second.record).toMatchObject({ seq: 1, prev: first.record.hash });
    expect(JSON.parse(second.line)).toEqual(second.record);
    expect(recordHash(JSON.parse(second.line))).toBe(second.record.hash);
  });

  it('an added key, even "__proto__", or a key moved into details changes the hash', async () => {
    const chain = new HashChain('sso-1.00000002');
    const { line } = chain.append({ timestamp: '2026-12-01T00:00:00.000Z', level: 'info', event: 'logout', outcome: 'success', accountId: 'a' });
    const added = line.replace('{', '{"__proto__":{"x":1},');
    const report = await verifyChain([{ text: added, where: 'l:1' }]);
    expect(report.broken?.reason).toContain('record altered');
    const moved = line.replace('"accountId":"a",', '').replace('"event"', '"details":{"accountId":"a"},"event"');
    expect((await verifyChain([{ text: moved, where: 'l:1' }])).broken?.reason).toContain('record altered');
    expect((await verifyChain([{ text: line, where: 'l:1' }])).broken).toBeUndefined();
  });

  it('seq 0 must start from the genesis hash', async () => {
    const forged = { timestamp: 't', level: 'info', event: 'logout', outcome: 'success', instance: 'x', seq: 0, prev: 'f'.repeat(64) };
    const text = JSON.stringify({ ...forged, hash: recordHash(forged as never) });
    expect((await verifyChain([{ text, where: 'l:1' }])).broken?.reason).toBe('seq 0 does not start from the genesis hash');
  });
});
