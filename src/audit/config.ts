// The `audit` configuration section: instance name and the four sinks (stdout, rotating file, Redis stream, webhook).
import { z } from 'zod';

const MiB = 1024 * 1024;

const auditFileSchema = z.strictObject({
  path: z.string().min(1).describe('JSON-lines file (appended; a relative path resolves against the configuration file\'s directory).'),
  maxBytes: z.number().int().min(4096).default(100 * MiB).describe('Rotate when the file would grow past this size.'),
  daily: z.boolean().default(true).describe('Also rotate at the first record of each new UTC day.'),
});

const auditRedisSchema = z.strictObject({
  url: z.string().min(1).optional().describe('redis:// or rediss:// URL (default: the store\'s url).'),
  stream: z.string().min(1).max(200).default('vestibule:audit').describe('Stream key every instance appends to.'),
  maxLen: z.number().int().min(1000).default(1_000_000).describe('Approximate cap (XADD MAXLEN ~): older entries are trimmed.'),
});

export const auditWebhookSchema = z.strictObject({
  url: z.string().url().describe('Receiver URL; https only (see allowLoopbackHttp).'),
  secret: z.string().min(32, 'must be at least 32 characters').describe('HMAC-SHA256 key signing each delivery; "$ENV_NAME" recommended.'),
  minLevel: z.enum(['info', 'warn', 'error']).default('warn').describe('Deliver events at or above this level.'),
  timeoutMs: z.number().int().min(100).max(60_000).default(5000).describe('Timeout of one delivery attempt, ms.'),
  maxAttempts: z.number().int().min(1).max(20).default(6).describe('Attempts per event (retries back off exponentially).'),
  backoffMs: z.number().int().min(10).max(600_000).default(1000).describe('First retry delay, doubled each time (capped at 5 minutes).'),
  maxQueue: z.number().int().min(1).max(100_000).default(1000).describe('Events waiting for delivery; beyond it new events are dropped (and logged).'),
  maxBodyBytes: z.number().int().min(1024).max(1024 * 1024).default(64 * 1024).describe('Largest delivery body; a larger record is dropped (and logged).'),
  allowLoopbackHttp: z.boolean().default(false).describe('Allow http:// to a loopback address (tests, a local relay).'),
});

export const auditConfigSchema = z
  .strictObject({
    instance: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"').optional().describe('This instance\'s name in the chain (default: the host name).'),
    stdout: z.boolean().default(true).describe('Write records to standard output as JSON lines.'),
    file: auditFileSchema.optional(),
    redis: auditRedisSchema.optional(),
    webhook: auditWebhookSchema.optional(),
  })
  .superRefine((audit, ctx) => {
    const webhook = audit.webhook;
    if (!webhook) return;
    const url = new URL(webhook.url);
    const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && webhook.allowLoopbackHttp && loopback) return;
    ctx.addIssue({ code: 'custom', path: ['webhook', 'url'], message: webhook.allowLoopbackHttp ? 'must be https, or http to a loopback address' : 'must be https' });
  });

export type AuditConfig = z.output<typeof auditConfigSchema>;
/** After loading: the instance name is always known. */
export type ResolvedAuditConfig = AuditConfig & { instance: string };
export type AuditFileConfig = z.output<typeof auditFileSchema>;
export type AuditWebhookConfig = z.output<typeof auditWebhookSchema>;

/** What the loader knows besides the `audit` section. */
export interface AuditConfigInputs {
  /** The `audit` section as written (already validated by the configuration schema), if any. */
  raw: unknown;
  /** `auditLog` when the file or AUDIT_LOG set it (resolved path, "stdout" or "off"). */
  auditLog: string | undefined;
  /** The store's Redis URL, when the store is a single Redis URL. */
  storeRedisUrl: string | undefined;
  /** Resolves a relative file path. */
  resolvePath(path: string): string;
  hostname: string;
}

/** The effective audit settings: the section, or the older `auditLog` mapped onto it; a conflict or a missing Redis URL goes to `errors`. */
export function resolveAuditConfig(inputs: AuditConfigInputs, errors: string[]): ResolvedAuditConfig {
  const raw = (inputs.raw && typeof inputs.raw === 'object' ? inputs.raw : {}) as Record<string, unknown>;
  const namesSinks = raw.stdout !== undefined || raw.file !== undefined;
  if (inputs.auditLog !== undefined && namesSinks) {
    errors.push('auditLog: replaced by audit.stdout and audit.file; remove auditLog (or AUDIT_LOG) and set those instead');
  }
  const legacy = inputs.auditLog ?? 'stdout';
  const legacySinks = legacy === 'stdout' ? {} : legacy === 'off' ? { stdout: false } : { stdout: false, file: { path: legacy } };
  const audit = auditConfigSchema.parse({ ...raw, ...(namesSinks ? {} : legacySinks) });
  if (audit.file) audit.file.path = inputs.resolvePath(audit.file.path);
  if (audit.redis && !audit.redis.url) {
    if (inputs.storeRedisUrl) audit.redis.url = inputs.storeRedisUrl;
    else errors.push('audit.redis.url: required when the store is not a Redis URL');
  }
  return { ...audit, instance: audit.instance ?? (inputs.hostname.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'vestibule') };
}
