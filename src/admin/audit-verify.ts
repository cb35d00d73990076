// `vestibule audit verify`: checks audit files (in order) or a Redis stream against their hash chains; exit 1 names the first broken record.
import { Redis } from 'ioredis';
import { filesInOrder } from '../audit/file.js';
import { fileEntries, streamEntries } from '../audit/sources.js';
import { processEnv } from '../config/env.js';
import { ConfigError } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import { verifyChain, type AuditEntry, type VerifyReport } from '../audit/verify.js';

export const AUDIT_VERIFY_USAGE = `usage: vestibule audit verify [--partial] [--json] <file>...   (rotated files first, oldest to newest, then the current one)
       vestibule audit verify [--partial] [--json] --redis <url> --stream <key>
       vestibule audit verify [--partial] [--json]   (the configured audit.file and its rotated files, else the audit.redis stream)
  --partial  accept chains that begin after seq 0 (a capped stream, old files deleted under the retention policy)
exit codes: 0 every chain intact, 1 a broken record (named), 2 usage or read error
`;

interface Options {
  files: string[];
  redis?: string;
  stream?: string;
  partial: boolean;
  json: boolean;
}

function parseArgs(args: readonly string[]): Options | string {
  const options: Options = { files: [], partial: false, json: false };
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (arg === '--partial') options.partial = true;
    else if (arg === '--json') options.json = true;
    else if (arg === '--redis' || arg === '--stream') {
      const value = args[i + 1];
      if (!value || value.startsWith('--')) return `${arg} needs a value`;
      options[arg === '--redis' ? 'redis' : 'stream'] = value;
      i += 1;
    } else if (arg.startsWith('--')) return `unknown option ${arg}`;
    else options.files.push(arg);
  }
  if (!options.redis !== !options.stream) return '--redis and --stream go together';
  if (options.redis && options.files.length > 0) return 'give files or a Redis stream, not both';
  return options;
}

function print(report: VerifyReport, json: boolean): void {
  if (json) {
    const chains = Object.fromEntries(report.chains);
    process.stdout.write(`${JSON.stringify({ ok: !report.broken, records: report.records, chains, ...(report.broken ? { broken: report.broken } : {}) })}\n`);
    return;
  }
  const { broken } = report;
  if (broken) {
    const record = broken.instance === undefined ? 'record' : `record instance ${broken.instance} seq ${broken.seq}`;
    process.stdout.write(`BROKEN: ${record} at ${broken.where}: ${broken.reason}\n(${report.records} records before it verified)\n`);
    return;
  }
  process.stdout.write(`OK: ${report.records} records in ${report.chains.size} chain(s)\n`);
  for (const [instance, { first, last }] of report.chains) process.stdout.write(`  ${instance}: seq ${first}..${last}\n`);
}

/** Without files or a stream: what BROKER_CONFIG configures (the file and its rotated files first, else the stream). */
async function fromConfiguration(options: Options): Promise<Options | string> {
  let audit;
  try {
    audit = (await loadConfig({ env: processEnv() })).audit;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.message;
  }
  if (audit.file) {
    const files = filesInOrder(audit.file.path);
    return files.length > 0 ? { ...options, files } : `no audit file at ${audit.file.path}`;
  }
  if (audit.redis?.url) return { ...options, redis: audit.redis.url, stream: audit.redis.stream };
  return 'nothing to verify: give files or --redis and --stream (no audit.file or audit.redis configured)';
}

async function verifySource(options: Options): Promise<VerifyReport> {
  if (!options.redis) return verifyChain(fileEntries(options.files), options);
  const redis = new Redis(options.redis, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    const entries: AsyncIterable<AuditEntry> = streamEntries(redis, options.stream!);
    return await verifyChain(entries, options);
  } finally {
    redis.disconnect();
  }
}

export async function auditVerify(args: readonly string[]): Promise<number> {
  const parsed = parseArgs(args);
  const options = typeof parsed !== 'string' && !parsed.redis && parsed.files.length === 0 ? await fromConfiguration(parsed) : parsed;
  if (typeof options === 'string') {
    process.stderr.write(`audit verify: ${options}\n${AUDIT_VERIFY_USAGE}`);
    return 2;
  }
  let report: VerifyReport;
  try {
    report = await verifySource(options);
  } catch (error) {
    process.stderr.write(`audit verify: cannot read: ${(error as Error).message}\n`);
    return 2;
  }
  print(report, options.json);
  return report.broken ? 1 : 0;
}
