// Loads and validates the whole configuration (file + environment + providers), collecting every problem before failing once.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { resolveAuditConfig, type ResolvedAuditConfig } from '../audit/config.js';
import { envValue, type Env } from './env.js';
import { ConfigError, problemPath, withoutUnresolved, zodIssues } from './issues.js';
import { loadProviders, type ProviderDefinition } from './providers.js';
import { configFileSchema, type ParsedConfigFile } from './schema.js';
import { resolveSecretRefs } from './secret-refs.js';
import { trustProxyFromEnv } from './trust-proxy.js';
import { metricsProblems } from './metrics-checks.js';
import { demoClient, developmentConfig, DEMO_CLIENT_ID, type DemoCredentials } from './development.js';
import { resolveBranding, type Branding } from './branding.js';

export interface BrokerConfig extends Omit<ParsedConfigFile, 'providers' | 'cookieKeys' | 'vaultKeys' | 'issuer' | 'host' | 'demo' | '$schema' | 'branding'> {
  issuer: string;
  /** Page branding, the logo file already embedded. */
  branding: Branding;
  host: string;
  production: boolean;
  demo: boolean;
  cookieKeys: string[];
  vaultKeys: Buffer[];
  providers: ProviderDefinition[];
  /** Where the configuration came from: a file path, or "built-in development configuration". */
  source: string;
  /** Development defaults in use; logged loudly at start. */
  warnings: string[];
  /** Keys generated because the configuration sets none (development): a reload keeps the running ones. */
  generatedKeys?: ('cookieKeys' | 'vaultKeys')[];
  /** Demo users' generated passwords (development configuration only), printed at start. */
  demoCredentials?: DemoCredentials;
  /** Effective audit settings (the `audit` section, or `auditLog` mapped onto it). */
  audit: ResolvedAuditConfig;
}

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

type EnvOverride = { name: string; path: string; kind: 'string' | 'int' | 'bool' | 'list' | 'trustProxy' };
/** Environment variables that override the file, in the order of the README's reference. */
export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { name: 'ISSUER', path: 'issuer', kind: 'string' },
  { name: 'PORT', path: 'port', kind: 'int' },
  { name: 'HOST', path: 'host', kind: 'string' },
  { name: 'TRUST_PROXY', path: 'trustProxy', kind: 'trustProxy' },
  { name: 'COOKIE_KEYS', path: 'cookieKeys', kind: 'list' },
  { name: 'JWKS_FILE', path: 'jwksFile', kind: 'string' },
  { name: 'VAULT_KEYS', path: 'vaultKeys', kind: 'list' },
  { name: 'KEYS_PUBLISH_BEFORE_USE_SECONDS', path: 'keys.publishBeforeUseSeconds', kind: 'int' },
  { name: 'KEYS_ROTATE_EVERY_SECONDS', path: 'keys.rotateEverySeconds', kind: 'int' },
  { name: 'PROVIDERS_DIR', path: 'providersDir', kind: 'string' },
  { name: 'REVERIFY_INTERVAL_SECONDS', path: 'session.reverifyIntervalSeconds', kind: 'int' },
  { name: 'UPSTREAM_REFRESH_SKEW_SECONDS', path: 'session.upstreamRefreshSkewSeconds', kind: 'int' },
  { name: 'REVERIFY_GRACE_SECONDS', path: 'session.reverifyGraceSeconds', kind: 'int' },
  { name: 'ACCESS_TOKEN_TTL', path: 'tokens.accessTokenTtl', kind: 'int' },
  { name: 'ID_TOKEN_TTL', path: 'tokens.idTokenTtl', kind: 'int' },
  { name: 'REFRESH_TOKEN_TTL', path: 'tokens.refreshTokenTtl', kind: 'int' },
  { name: 'SESSION_TTL', path: 'tokens.sessionTtl', kind: 'int' },
  { name: 'UPSTREAM_TIMEOUT_MS', path: 'upstreamTimeoutMs', kind: 'int' },
  { name: 'UPSTREAM_CIRCUIT_FAILURE_THRESHOLD', path: 'upstreamCircuit.failureThreshold', kind: 'int' },
  { name: 'UPSTREAM_CIRCUIT_COOLDOWN_SECONDS', path: 'upstreamCircuit.cooldownSeconds', kind: 'int' },
  { name: 'MAX_BODY_BYTES', path: 'maxBodyBytes', kind: 'int' },
  { name: 'AUDIT_LOG', path: 'auditLog', kind: 'string' },
  { name: 'AUDIT_INSTANCE', path: 'audit.instance', kind: 'string' },
  { name: 'METRICS_ENABLED', path: 'metrics.enabled', kind: 'bool' },
  { name: 'METRICS_HOST', path: 'metrics.host', kind: 'string' },
  { name: 'METRICS_PORT', path: 'metrics.port', kind: 'int' },
  { name: 'METRICS_ON_MAIN_PORT', path: 'metrics.onMainPort', kind: 'bool' },
  { name: 'METRICS_TOKEN', path: 'metrics.token', kind: 'string' },
  { name: 'TRACING', path: 'tracing', kind: 'bool' },
  { name: 'LOG_LEVEL', path: 'logLevel', kind: 'string' },
  { name: 'WATCH_CONFIG', path: 'watchConfig', kind: 'bool' },
  { name: 'DEMO', path: 'demo', kind: 'bool' },
];

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (!node[part] || typeof node[part] !== 'object') node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

function applyEnvOverrides(raw: Record<string, unknown>, env: Env, errors: string[]): void {
  for (const { name, path, kind } of ENV_OVERRIDES) {
    let text: string | undefined;
    try {
      text = envValue(env, name);
    } catch (error) {
      errors.push(`${name}: ${(error as Error).message}`);
      continue;
    }
    if (text === undefined) continue;
    if (kind === 'int') {
      if (!/^\d+$/.test(text.trim())) errors.push(`${name}: must be a whole number, got "${text.slice(0, 40)}"`);
      else setPath(raw, path, Number(text.trim()));
    } else if (kind === 'bool') {
      const value = text.trim().toLowerCase();
      if (!['true', 'false', '1', '0'].includes(value)) errors.push(`${name}: must be true or false`);
      else setPath(raw, path, value === 'true' || value === '1');
    } else if (kind === 'list') {
      setPath(raw, path, text.split(',').map((item) => item.trim()).filter(Boolean));
    } else if (kind === 'trustProxy') {
      setPath(raw, path, trustProxyFromEnv(text));
    } else setPath(raw, path, text);
  }
  const redisUrl = envValue(env, 'REDIS_URL');
  if (redisUrl) {
    const store = (raw.store && typeof raw.store === 'object' ? raw.store : {}) as Record<string, unknown>;
    raw.store = { ...store, type: 'redis', url: redisUrl };
  }
}

function readConfigFile(path: string, errors: string[]): Record<string, unknown> | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    if (text.length > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the top level must be a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    errors.push(`BROKER_CONFIG=${path}: ${code ? `cannot read (${code})` : `invalid JSON: ${(error as Error).message}`}`);
    return undefined;
  }
}

/** The settings production checks read, parsed or (when the file has problems) as written. */
interface ProductionView {
  issuer?: unknown;
  cookieKeys?: unknown;
  vaultKeys?: unknown;
  store?: unknown;
  demo?: unknown;
}

/** Development defaults refused in production; a setting already reported as invalid is not reported again. */
function productionProblems(file: ProductionView, production: boolean, errors: string[]): void {
  if (!production) return;
  const reported = new Set(errors.map(problemPath));
  const add = (path: string, message: string) => {
    if (!reported.has(path)) errors.push(`${path}: ${message}`);
  };
  if (!file.issuer) add('issuer', 'required when NODE_ENV=production (set ISSUER to the public https URL)');
  else if (typeof file.issuer === 'string' && !file.issuer.startsWith('https://')) add('issuer', 'must use https when NODE_ENV=production');
  if (!file.cookieKeys) add('cookieKeys', 'required when NODE_ENV=production (set COOKIE_KEYS or COOKIE_KEYS_FILE)');
  if (!file.vaultKeys) add('vaultKeys', 'required when NODE_ENV=production (set VAULT_KEYS or VAULT_KEYS_FILE)');
  const storeType = file.store === undefined ? 'memory' : (file.store as { type?: unknown } | null)?.type;
  if (storeType === 'memory') add('store', 'the memory store is refused when NODE_ENV=production (set REDIS_URL)');
  if (file.demo === true) add('demo', 'the demo is refused when NODE_ENV=production');
}

const unique = (problems: string[]) => [...new Set(problems)];

export interface LoadOptions {
  env: Env;
  /** Base for BROKER_CONFIG, and for relative paths (providers dir, JWKS file, audit log) when there is no file; default the process's working directory. */
  cwd?: string;
  /** A configuration object instead of the BROKER_CONFIG file (tests, embedding). */
  file?: Record<string, unknown>;
}

/** Loads, resolves and validates everything; throws ConfigError listing every problem. */
export async function loadConfig(options: LoadOptions): Promise<BrokerConfig> {
  const { env } = options;
  const errors: string[] = [];
  const production = env.NODE_ENV === 'production';
  const configPath = env.BROKER_CONFIG;
  let cwd = options.cwd ?? process.cwd();
  let fileRaw: Record<string, unknown> | undefined = options.file ? structuredClone(options.file) : undefined;
  let source = 'inline configuration';
  if (!fileRaw && configPath) {
    fileRaw = readConfigFile(resolve(cwd, configPath), errors);
    source = resolve(cwd, configPath);
    cwd = dirname(source);
  }
  let demoCredentials: DemoCredentials | undefined;
  if (!fileRaw && !configPath) {
    if (production) errors.push('BROKER_CONFIG: required when NODE_ENV=production (the built-in development configuration is refused)');
    const development = await developmentConfig();
    fileRaw = development.file;
    demoCredentials = development.credentials;
    source = 'built-in development configuration';
  }
  // Inline providers resolve their own "$ENV" references (validateProvider), so each unset one is reported once.
  const { providers: inlineRaw, ...mainRaw } = fileRaw ?? {};
  const raw = (resolveSecretRefs(mainRaw, env, errors) ?? {}) as Record<string, unknown>;
  applyEnvOverrides(raw, env, errors);
  if (inlineRaw !== undefined) raw.providers = inlineRaw;

  // Every phase runs even when an earlier one failed, so one run lists every problem (as Dex's config loader does).
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) errors.push(...withoutUnresolved(zodIssues(parsed.error), errors));
  const providersDir = parsed.success ? parsed.data.providersDir : typeof raw.providersDir === 'string' ? raw.providersDir : 'providers';
  const inline = parsed.success ? parsed.data.providers : Array.isArray(inlineRaw) ? inlineRaw : [];
  const declaredIds = new Set<string>();
  const providers = loadProviders(providersDir, inline, env, errors, cwd, declaredIds);
  const clientsRaw = Array.isArray(raw.clients) ? (raw.clients as unknown[]) : [];
  clientsRaw.forEach((client, index) => {
    const allowed = (client as { allowedProviders?: unknown } | null)?.allowedProviders;
    if (!Array.isArray(allowed)) return;
    allowed.forEach((id, j) => {
      // A provider that is defined but invalid has its own problem listed; only unknown ids are reported here.
      if (typeof id === 'string' && id && !declaredIds.has(id)) errors.push(`clients[${index}].allowedProviders[${j}]: no provider with id "${id}"`);
    });
  });
  const warnings: string[] = [];
  metricsProblems(parsed.success ? parsed.data.metrics : raw.metrics, parsed.success ? parsed.data.port : raw.port, production, errors, warnings);
  if (!parsed.success) {
    productionProblems(raw, production, errors);
    throw new ConfigError(unique(errors));
  }
  const file = parsed.data;

  const demo = file.demo ?? (!production && !configPath && !options.file);
  const cookieKeys = file.cookieKeys ?? [randomBytes(32).toString('base64url')];
  if (!file.cookieKeys) warnings.push('cookieKeys not set: using a generated key (sessions will not survive a restart)');
  const vaultKeys = (file.vaultKeys ?? []).map((key) => Buffer.from(key, key.includes('+') || key.includes('/') ? 'base64' : 'base64url'));
  if (vaultKeys.length === 0) {
    vaultKeys.push(randomBytes(32));
    warnings.push('vaultKeys not set: using a generated upstream-token vault key');
  }
  if (file.store.type === 'memory') warnings.push('store is "memory": state is lost on restart and not shared between instances');

  productionProblems({ ...file, demo }, production, errors);
  const port = file.port;
  const issuer = (file.issuer ?? `http://localhost:${port}`).replace(/\/+$/, '');
  // Relative paths (jwksFile, auditLog, providersDir) resolve against the configuration file's directory.
  if (file.jwksFile) file.jwksFile = resolve(cwd, file.jwksFile);
  if (file.risk.networks.reputationFile) file.risk.networks.reputationFile = resolve(cwd, file.risk.networks.reputationFile);
  if (file.risk.geo) file.risk.geo.databaseFile = resolve(cwd, file.risk.geo.databaseFile);
  if (file.auditLog !== 'stdout' && file.auditLog !== 'off') file.auditLog = resolve(cwd, file.auditLog);
  const audit = resolveAuditConfig(
    {
      raw: raw.audit,
      auditLog: raw.auditLog === undefined ? undefined : file.auditLog,
      storeRedisUrl: file.store.type === 'redis' ? file.store.url : undefined,
      resolvePath: (path) => resolve(cwd, path),
      hostname: hostname(),
    },
    errors,
  );
  if (demo && !file.clients.some((client) => client.clientId === DEMO_CLIENT_ID)) file.clients.push(demoClient(issuer));
  const branding = resolveBranding(file.branding, cwd, errors);
  if (errors.length > 0) throw new ConfigError(unique(errors));

  const { providers: _inline, cookieKeys: _c, vaultKeys: _v, issuer: _i, host, demo: _d, $schema: _s, branding: _b, ...rest } = file;
  return {
    ...rest,
    issuer,
    host: host ?? (production ? '0.0.0.0' : 'localhost'),
    production,
    demo,
    cookieKeys,
    vaultKeys,
    providers,
    source,
    warnings,
    demoCredentials,
    generatedKeys: [...(file.cookieKeys ? [] : ['cookieKeys' as const]), ...(file.vaultKeys ? [] : ['vaultKeys' as const])],
    audit,
    branding,
  };
}
