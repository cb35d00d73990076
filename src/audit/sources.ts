// Reads audit records for verification: JSON lines from files in the given order, or a Redis stream from oldest to newest.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';
import { STREAM_FIELD } from './redis-stream.js';
import type { AuditEntry } from './verify.js';

/** Every non-empty line of each file, in order; `where` is "file:line". */
export async function* fileEntries(paths: readonly string[]): AsyncGenerator<AuditEntry> {
  for (const path of paths) {
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    let number = 0;
    for await (const line of lines) {
      number += 1;
      if (line.trim()) yield { text: line, where: `${path}:${number}` };
    }
  }
}

/** Every entry of the stream, oldest first, in pages; `where` is "stream#entry-id". */
export async function* streamEntries(redis: Redis, stream: string, pageSize = 1000): AsyncGenerator<AuditEntry> {
  let start = '-';
  for (;;) {
    const page = await redis.xrange(stream, start, '+', 'COUNT', pageSize);
    for (const [id, fields] of page) {
      const at = fields.indexOf(STREAM_FIELD);
      yield { text: at >= 0 && at % 2 === 0 ? (fields[at + 1] ?? '') : '', where: `${stream}#${id}` };
    }
    if (page.length < pageSize) return;
    start = `(${page.at(-1)![0]}`;
  }
}
