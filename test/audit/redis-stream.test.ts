// Two instances share one Redis stream and verify clean; a deleted, edited or reordered entry is named by `audit verify --redis`.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisStreamSink } from '../../src/audit/redis-stream.js';
import { startBroker } from '../helpers/broker.js';
import { openRedisStore, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { loginAndExchange } from '../helpers/rp.js';
import { auditVerifyCli, recordEvents } from './helpers.js';

const redis = new Redis(REDIS_URL);
const keys: string[] = [];

afterAll(async () => {
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

/** A stream written by two Auditors (different instances, their records interleaved), 6 records each. */
async function sharedStream(): Promise<string> {
  const key = `${testPrefix('audit')}stream`;
  keys.push(key);
  const sinkA = RedisStreamSink.connect(REDIS_URL, key, 1000);
  const sinkB = RedisStreamSink.connect(REDIS_URL, key, 1000);
  const a = recordEvents([sinkA], 'sso-a.00000001', 0);
  const b = recordEvents([sinkB], 'sso-b.00000002', 0);
  for (let i = 0; i < 6; i += 1) {
    a.record({ event: 'login.success', outcome: 'success', accountId: `a${i}`, ip: '10.0.0.1' });
    b.record({ event: 'token.issued', outcome: 'success', accountId: `b${i}`, details: { grantType: 'authorization_code' } });
  }
  // Each sink's XADDs answer in order; closing waits for them (QUIT after the queued commands).
  await Promise.all([a.close(), b.close()]);
  expect(await redis.xlen(key)).toBe(12);
  return key;
}

/** The stream's entries: [id, record line]. */
async function entries(key: string): Promise<[string, string][]> {
  return (await redis.xrange(key, '-', '+')).map(([id, fields]) => [id, fields[1]!]);
}

/** Index of a chain's record in the stream (the two instances' entries interleave in whatever order they arrived). */
function indexOf(list: [string, string][], instance: string, seq: number): number {
  return list.findIndex(([, line]) => JSON.parse(line).instance === instance && JSON.parse(line).seq === seq);
}

/** Someone with write access to Redis rebuilds the stream with other contents under the same ids. */
async function rewriteStream(key: string, list: [string, string][]): Promise<void> {
  await redis.del(key);
  for (const [id, line] of list) await redis.xadd(key, id, 'record', line);
}

const verify = (key: string) => auditVerifyCli(['--redis', REDIS_URL, '--stream', key]);

describe('audit verify on a Redis stream', () => {
  it('two instances writing to one stream at the same time verify clean, two chains of 6', async () => {
    const key = await sharedStream();
    const result = verify(key);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('OK: 12 records in 2 chain(s)');
    expect(result.stdout).toContain('sso-a.00000001: seq 0..5');
    expect(result.stdout).toContain('sso-b.00000002: seq 0..5');
  });

  it('names the entry after one deleted with XDEL', async () => {
    const key = await sharedStream();
    const list = await entries(key);
    await redis.xdel(key, list[indexOf(list, 'sso-b.00000002', 2)]![0]);
    const next = list[indexOf(list, 'sso-b.00000002', 3)]!;
    const result = verify(key);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`record instance sso-b.00000002 seq 3 at ${key}#${next[0]}`);
    expect(result.stdout).toContain('expected seq 2 after 1');
  });

  it('names an edited entry', async () => {
    const key = await sharedStream();
    const list = await entries(key);
    const at = indexOf(list, 'sso-a.00000001', 2);
    list[at]![1] = list[at]![1].replace('"accountId":"a2"', '"accountId":"mallory"');
    expect(list[at]![1]).toContain('mallory');
    await rewriteStream(key, list);
    const result = verify(key);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`record instance sso-a.00000001 seq 2 at ${key}#${list[at]![0]}`);
    expect(result.stdout).toContain('record altered');
  });

  it('names the first entry out of order when two of one chain are swapped', async () => {
    const key = await sharedStream();
    const list = await entries(key);
    const [third, fourth] = [indexOf(list, 'sso-a.00000001', 3), indexOf(list, 'sso-a.00000001', 4)];
    [list[third]![1], list[fourth]![1]] = [list[fourth]![1], list[third]![1]];
    await rewriteStream(key, list);
    const result = verify(key);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`record instance sso-a.00000001 seq 4 at ${key}#${list[third]![0]}`);
    expect(result.stdout).toContain('expected seq 3 after 2');
  });

  it('a capped stream (XADD MAXLEN ~) keeps about maxLen entries; it verifies with --partial, read page by page', async () => {
    const key = `${testPrefix('audit')}capped`;
    keys.push(key);
    const sink = RedisStreamSink.connect(REDIS_URL, key, 1000);
    await recordEvents([sink], 'sso-c.00000003', 2500).close();
    const length = await redis.xlen(key);
    expect(length).toBeGreaterThanOrEqual(1000);
    expect(length).toBeLessThan(2500);
    const strict = verify(key);
    expect(strict.status).toBe(1);
    expect(strict.stdout).toContain('earlier records are missing');
    const partial = auditVerifyCli(['--partial', '--redis', REDIS_URL, '--stream', key]);
    expect(partial.status).toBe(0);
    expect(partial.stdout).toContain(`OK: ${length} records in 1 chain(s)`);
    expect(partial.stdout).toContain(`seq ${2500 - length}..2499`);
  });

  it('two brokers sharing one Redis: sign-ins on both at the same moment land in one stream that verifies clean', async () => {
    const key = `${testPrefix('audit')}brokers`;
    keys.push(key);
    const store = await openRedisStore();
    const audit = { redis: { url: REDIS_URL, stream: key, maxLen: 1000 } };
    const [one, two] = await Promise.all([startBroker({ store, config: { audit } }), startBroker({ store, config: { audit } })]);
    try {
      await Promise.all([loginAndExchange(one.issuer), loginAndExchange(two.issuer), loginAndExchange(one.issuer), loginAndExchange(two.issuer)]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
    const records = (await entries(key)).map(([, line]) => JSON.parse(line));
    expect(new Set(records.map((r) => r.instance)).size).toBe(2);
    expect(records.filter((r) => r.event === 'login.success')).toHaveLength(4);
    const result = verify(key);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`OK: ${records.length} records in 2 chain(s)`);
  });

  it('a Redis that does not answer: the write fails (the Auditor logs it) and closing still ends', async () => {
    const sink = RedisStreamSink.connect('redis://127.0.0.1:1', 'x', 1000);
    const auditor = recordEvents([sink], 'sso-d.00000004', 0);
    const failed = sink.write({} as never, '{}');
    await expect(failed).rejects.toThrow();
    await auditor.close();
  });

  it('exits 2 when Redis does not answer', async () => {
    const result = auditVerifyCli(['--redis', 'redis://127.0.0.1:1', '--stream', 'x']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('cannot read');
  });
});
