// Loads upstream provider definitions (providers/*.json and inline ones) and validates each with its connector's own schema.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connectorFactory, connectorTypes } from '../connectors/registry.js';
import type { Env } from './env.js';
import { withoutUnresolved, zodIssues } from './issues.js';
import { providerFileSchema } from './schema.js';
import { resolveSecretRefs } from './secret-refs.js';

/** A validated provider: the envelope plus the config as its factory parsed it. */
export interface ProviderDefinition {
  id: string;
  type: string;
  name: string;
  domains: string[];
  /** Re-verification interval of this provider's sessions, seconds (absent: the broker-wide setting). */
  reverifyIntervalSeconds?: number;
  config: unknown;
  /** Where it came from, for messages: a file path or "providers[2]". */
  source: string;
  /** Directory relative paths inside the config resolve against. */
  baseDir: string;
}

const MAX_PROVIDER_FILE_BYTES = 1024 * 1024;

/** Validates one provider definition (resolving "$ENV" references); problems go to `errors`, prefixed by `source`. */
export function validateProvider(raw: unknown, source: string, baseDir: string, env: Env, errors: string[]): ProviderDefinition | undefined {
  const refErrors: string[] = [];
  const resolved = resolveSecretRefs(raw, env, refErrors);
  errors.push(...refErrors.map((problem) => `${source}: ${problem}`));
  const envelope = providerFileSchema.safeParse(resolved);
  if (!envelope.success) {
    errors.push(...withoutUnresolved(zodIssues(envelope.error), refErrors).map((problem) => `${source}: ${problem}`));
    return undefined;
  }
  const factory = connectorFactory(envelope.data.type);
  if (!factory) {
    errors.push(`${source}: type: unknown connector type "${envelope.data.type}" (known: ${connectorTypes().join(', ')})`);
    return undefined;
  }
  const config = factory.configSchema.safeParse(envelope.data.config);
  if (!config.success) {
    errors.push(...withoutUnresolved(zodIssues(config.error, 'config'), refErrors).map((problem) => `${source}: ${problem}`));
    return undefined;
  }
  if (refErrors.length > 0) return undefined;
  const { id, type, name, domains, reverifyIntervalSeconds } = envelope.data;
  return { id, type, name, domains: domains.map((d) => d.toLowerCase()), ...(reverifyIntervalSeconds !== undefined ? { reverifyIntervalSeconds } : {}), config: config.data, source, baseDir };
}

/** The "id" a definition claims, valid or not (so a reference to an invalid provider is not also reported as unknown). */
function claimedId(raw: unknown): string | undefined {
  const id = raw && typeof raw === 'object' ? (raw as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Reads every top-level *.json of `dir` (a missing directory is an empty list) plus the inline definitions.
 * `declaredIds` receives every id a definition claims, including definitions that fail validation.
 */
export function loadProviders(dir: string, inline: unknown[], env: Env, errors: string[], cwd = process.cwd(), declaredIds = new Set<string>()): ProviderDefinition[] {
  const out: ProviderDefinition[] = [];
  const absDir = resolve(cwd, dir);
  let names: string[] = [];
  try {
    names = readdirSync(absDir, { withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') errors.push(`providersDir: cannot read ${absDir}: ${(error as NodeJS.ErrnoException).code}`);
  }
  for (const name of names) {
    const path = join(absDir, name);
    const source = join(dir, name);
    let raw: unknown;
    try {
      const text = readFileSync(path, 'utf8');
      if (text.length > MAX_PROVIDER_FILE_BYTES) throw new Error(`larger than ${MAX_PROVIDER_FILE_BYTES} bytes`);
      raw = JSON.parse(text);
    } catch (error) {
      errors.push(`${source}: invalid JSON: ${(error as Error).message}`);
      continue;
    }
    const id = claimedId(raw);
    if (id) declaredIds.add(id);
    const provider = validateProvider(raw, source, absDir, env, errors);
    if (provider) out.push(provider);
  }
  inline.forEach((raw, index) => {
    const id = claimedId(raw);
    if (id) declaredIds.add(id);
    const provider = validateProvider(raw, `providers[${index}]`, cwd, env, errors);
    if (provider) out.push(provider);
  });
  const seen = new Map<string, string>();
  for (const provider of out) {
    const other = seen.get(provider.id);
    if (other) errors.push(`${provider.source}: id: duplicate provider id "${provider.id}" (also in ${other})`);
    else seen.set(provider.id, provider.source);
  }
  return out;
}
