// Audit sink appending each record to a Redis stream (XADD, MAXLEN ~ cap) that every instance shares, for a central collector.
import { Redis } from 'ioredis';
import type { AuditRecord, AuditSink } from './events.js';

/** The stream entry field holding the record's canonical JSON line. */
export const STREAM_FIELD = 'record';

export class RedisStreamSink implements AuditSink {
  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
    private readonly maxLen: number,
    private readonly owned = false,
  ) {}

  /** A sink on its own connection to `url` (closed with the sink). */
  static connect(url: string, stream: string, maxLen: number): RedisStreamSink {
    return new RedisStreamSink(new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 }), stream, maxLen, true);
  }

  async write(_record: AuditRecord, line: string): Promise<void> {
    await this.redis.xadd(this.stream, 'MAXLEN', '~', String(this.maxLen), '*', STREAM_FIELD, line);
  }

  async close(): Promise<void> {
    if (this.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
