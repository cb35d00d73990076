// Replaces "$ENV_NAME" strings anywhere in a JSON document with the environment value (or NAME_FILE contents).
import { envValue, type Env } from './env.js';

const REF = /^\$([A-Z_][A-Z0-9_]*)$/;

/** Returns a copy with references resolved; each unresolvable reference adds "path: reason" to `errors`. */
export function resolveSecretRefs(value: unknown, env: Env, errors: string[], path = ''): unknown {
  if (typeof value === 'string') {
    if (value.startsWith('$$')) return value.slice(1);
    const match = REF.exec(value);
    if (!match) return value;
    const name = match[1]!;
    try {
      const resolved = envValue(env, name);
      if (resolved === undefined) errors.push(`${path || '(root)'}: environment variable ${name} is not set (nor ${name}_FILE)`);
      return resolved ?? value;
    } catch (error) {
      errors.push(`${path || '(root)'}: ${(error as Error).message}`);
      return value;
    }
  }
  if (Array.isArray(value)) return value.map((item, index) => resolveSecretRefs(item, env, errors, `${path}[${index}]`));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = resolveSecretRefs(item, env, errors, path ? `${path}.${key}` : key);
    return out;
  }
  return value;
}
