// Audit sink appending each record to a Redis stream (XADD, MAXLEN ~ cap) that every instance shares, for a central collector.
import { Redis } from 'ioredis';
import type { AuditRecord, AuditSink } from './events.js';

/** The stream entry field holding the record's JSON line. */
export const STREAM_FIELD = 'record';

export class RedisStreamSink implements AuditSink {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
    private readonly maxLen: number,
    private readonly owned = false,
  ) {}

  /** A sink on its own connection to `url` (closed with the sink). */
  static connect(url: string, stream: string, maxLen: number): RedisStreamSink {
    const redis = new Redis(url, { maxRetriesPerRequest: 3 });
    // A failure surfaces as a rejected write, which the Auditor logs; connection errors need no second report.
    redis.on('error', () => undefined);
    return new RedisStreamSink(redis, stream, maxLen, true);
  }

  async write(_record: AuditRecord, line: string): Promise<void> {
    const pending = this.redis.xadd(this.stream, 'MAXLEN', '~', String(this.maxLen), '*', STREAM_FIELD, line);
    this.inFlight.add(pending);
    try {
      await pending;
    } finally {
      this.inFlight.delete(pending);
    }
  }

  /** Waits for the writes already sent (each ends: answered, or failed after the client's retries), then disconnects. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    if (!this.owned) return;
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}
