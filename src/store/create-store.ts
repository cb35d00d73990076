// Builds the KeyValueStore named by the `store` config section (memory for development, Redis for every shared deployment).
import { z } from 'zod';
import type { Logger } from 'pino';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { KeyValueStore } from './store.js';

const redisNode = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be "host:port"');

const redisUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'redis:' || url.protocol === 'rediss:';
  } catch {
    return false;
  }
}, 'must be a redis:// or rediss:// URL');

const memoryStoreSchema = z.strictObject({
  type: z.literal('memory').describe('In-process store: one instance only, state lost on restart (development).'),
});

const redisStoreSchema = z
  .strictObject({
    type: z.literal('redis'),
    url: redisUrl.optional().describe('redis://[user:password@]host:port[/db] or rediss:// for TLS (default redis://127.0.0.1:6379).'),
    prefix: z
      .string()
      .max(64)
      .regex(/^[^{}\s]*$/, 'must not contain braces or spaces')
      .default('vestibule:')
      .describe('Prepended to every key and channel, so several deployments can share one Redis.'),
    cluster: z.array(redisNode).min(1).optional().describe('Redis Cluster seed nodes ("host:port").'),
    sentinels: z.array(redisNode).min(1).optional().describe('Redis Sentinel addresses ("host:port"); needs sentinelName.'),
    sentinelName: z.string().min(1).optional().describe('Master group name monitored by the sentinels.'),
    username: z.string().min(1).optional().describe('ACL user for cluster / sentinel nodes (URLs carry their own).'),
    password: z.string().min(1).optional().describe('Password for cluster / sentinel nodes; "$ENV_NAME" recommended.'),
    tls: z
      .union([
        z.boolean(),
        z.strictObject({
          ca: z.string().optional().describe('PEM CA bundle to trust.'),
          rejectUnauthorized: z.boolean().optional(),
          servername: z.string().optional(),
        }),
      ])
      .optional()
      .describe('TLS for every connection (rediss:// URLs turn it on by themselves); an object sets the CA to trust.'),
    commandTimeoutMs: z.number().int().positive().max(60_000).default(2000).describe('A command unanswered this long fails with 503.'),
    lostClaimWaitMs: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(15_000)
      .describe('A token request whose single-use claim of a code or refresh token got no answer (Redis went away mid-command) waits this long for Redis to say whether it landed, then answers 503.'),
  })
  .superRefine((section, ctx) => {
    const modes = [section.url, section.cluster, section.sentinels].filter((mode) => mode !== undefined).length;
    if (modes > 1) ctx.addIssue({ code: 'custom', path: ['url'], message: 'use only one of url, cluster, sentinels' });
    if (section.sentinels && !section.sentinelName) {
      ctx.addIssue({ code: 'custom', path: ['sentinelName'], message: 'required with sentinels' });
    }
    if (section.sentinelName && !section.sentinels) {
      ctx.addIssue({ code: 'custom', path: ['sentinels'], message: 'required with sentinelName' });
    }
  });

export const storeConfigSchema = z.discriminatedUnion('type', [memoryStoreSchema, redisStoreSchema]);
export type StoreConfig = z.output<typeof storeConfigSchema>;

/**
 * Creates the store. A Redis store waits up to `readyTimeoutMs` for its first connection; when Redis is not
 * there yet it logs and returns anyway (requests answer 503 until Redis answers, /readyz shows it).
 */
export async function createStore(config: StoreConfig, logger: Logger, readyTimeoutMs = 5000): Promise<KeyValueStore> {
  if (config.type === 'memory') {
    logger.warn('using the in-memory store: state is lost on restart and not shared between instances; use "store": {"type": "redis"} in production');
    return new MemoryStore();
  }
  const { type: _type, prefix, ...connection } = config;
  const store = new RedisStore({ connection, prefix, logger });
  try {
    await store.ready(readyTimeoutMs);
  } catch {
    logger.error({ mode: connection.cluster ? 'cluster' : connection.sentinels ? 'sentinel' : 'standalone' }, 'redis is not reachable yet; retrying in the background');
  }
  return store;
}
