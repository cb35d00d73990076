// CPU seconds a Redis server has used (INFO cpu: used_cpu_user + used_cpu_sys), read over the broker's own ioredis client.
import { Redis } from 'ioredis';

export class RedisCpu {
  private readonly client: Redis;

  constructor(url: string) {
    this.client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  }

  /** Total CPU ms of the whole Redis server (every client's work, not only the benchmark's). */
  async cpuMs(): Promise<number> {
    const info = await this.client.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
  }

  /** Deletes every key under `prefix`. */
  async flushPrefix(prefix: string): Promise<number> {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await this.client.del(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  /** Keys under `prefix` and the bytes Redis accounts to them (MEMORY USAGE, SAMPLES 0). */
  async prefixUsage(prefix: string): Promise<{ keys: number; bytes: number }> {
    let cursor = '0';
    let keys = 0;
    let bytes = 0;
    do {
      const [next, batch] = await this.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys += batch.length;
      const pipeline = this.client.pipeline();
      for (const key of batch) pipeline.memory('USAGE', key, 'SAMPLES', 0);
      for (const [, size] of (await pipeline.exec()) ?? []) bytes += Number(size ?? 0);
    } while (cursor !== '0');
    return { keys, bytes };
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
