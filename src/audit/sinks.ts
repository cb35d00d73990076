// Builds the configured audit sinks (stdout, rotating file, Redis stream, webhook) from the `audit` settings.
import type { Logger } from 'pino';
import type { AuditConfig } from './config.js';
import type { AuditSink } from './events.js';
import { RotatingFileSink } from './file.js';
import { RedisStreamSink } from './redis-stream.js';
import { StdoutSink } from './stdout.js';
import { WebhookSink } from './webhook.js';

export function createAuditSinks(config: AuditConfig, logger: Logger, now: () => number): AuditSink[] {
  const sinks: AuditSink[] = [];
  if (config.stdout) sinks.push(new StdoutSink());
  if (config.file) sinks.push(new RotatingFileSink(config.file, now));
  if (config.redis?.url) sinks.push(RedisStreamSink.connect(config.redis.url, config.redis.stream, config.redis.maxLen));
  // Signature timestamps are wall-clock time (receivers compare them with theirs), whatever clock the broker runs on.
  if (config.webhook) sinks.push(new WebhookSink(config.webhook, logger.child({ sink: 'audit-webhook' })));
  return sinks;
}
