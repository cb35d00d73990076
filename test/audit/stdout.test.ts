// The stdout sink writes each record's line, newline-terminated, to its stream (standard output by default).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StdoutSink } from '../../src/audit/stdout.js';
import { recordEvents } from './helpers.js';

describe('stdout audit sink', () => {
  it('writes one JSON line per record, in chain order', () => {
    const stream = new PassThrough();
    recordEvents([new StdoutSink(stream)], 'sso-1.99990001', 3);
    const lines = String(stream.read()).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(lines.slice(0, 3).map((line) => JSON.parse(line).seq)).toEqual([0, 1, 2]);
  });
});
