// Property: any JSON (or text) as the configuration file loads as a valid config or fails with a ConfigError listing problems, never another exception.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/issues.js';
import { loadConfig, type BrokerConfig } from '../../src/config/load.js';
import { localProvider } from '../helpers/broker.js';
import { SP_CERT, SP_KEY, TestIdp } from '../helpers/upstream-saml.js';
import { PROPERTY_TEST_TIMEOUT_MS, runParameters } from './runs.js';

type Outcome = { config: BrokerConfig } | { problems: string[] };

let dir: string;
let base: Record<string, unknown>;
let files = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vestibule-config-prop-'));
  base = {
    issuer: 'https://login.example.com',
    port: 8443,
    providersDir: resolve('test/fixtures/no-providers'),
    cookieKeys: ['k'.repeat(32), 'older-cookie-key-0123456789abcdef'],
    vaultKeys: ['AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8'],
    logLevel: 'silent',
    auditLog: 'off',
    clients: [
      { clientId: 'app', clientSecret: 's'.repeat(40), redirectUris: ['https://app.example.com/cb'], name: 'App' },
      { clientId: 'spa', public: true, redirectUris: ['https://spa.example.com/cb'], allowedProviders: ['local', 'acme-saml'] },
    ],
    providers: [
      await localProvider(),
      { id: 'acme-saml', type: 'saml', name: 'ACME', domains: ['acme.test'], config: { idp: { metadataXml: TestIdp.metadata() }, sp: { signingKey: SP_KEY, signingCert: SP_CERT } } },
      { id: 'okta', type: 'oidc', name: 'Okta', config: { issuer: 'https://acme.okta.com/oauth2/default', clientId: '0oa1', clientSecret: '$OKTA_SECRET' } },
    ],
    tokens: { accessTokenTtl: 300 },
    session: { reverifyIntervalSeconds: 600 },
  };
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Loads the text as the BROKER_CONFIG file; any exception but ConfigError fails the property. */
async function loadText(text: string, env: Record<string, string> = {}): Promise<Outcome> {
  const file = join(dir, `config-${++files}.json`);
  writeFileSync(file, text);
  try {
    return { config: await loadConfig({ env: { OKTA_SECRET: 'okta-secret', ...env, BROKER_CONFIG: file } }) };
  } catch (error) {
    if (error instanceof ConfigError) return { problems: error.problems };
    throw error;
  }
}

/** A problem is one line, "where: what", with no stack trace in it. */
function expectReadableProblems(problems: string[]): void {
  expect(problems.length).toBeGreaterThan(0);
  for (const problem of problems) {
    expect(typeof problem).toBe('string');
    expect(problem).toMatch(/^[^\n]+: [^\n]*$/);
    expect(problem).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  }
}

/** What a load yields, without what legitimately differs between two loads of the same settings. */
function comparable(config: BrokerConfig): Record<string, unknown> {
  const { source: _source, ...rest } = config;
  // Keys generated because the file sets none are random on every load.
  for (const generated of config.generatedKeys ?? []) delete (rest as Record<string, unknown>)[generated];
  return rest;
}

const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', '', ' ', '$schema', 'providers', 'clients', 'é', '\u0000'];
const nastyValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom('$UNSET_VARIABLE', '$OKTA_SECRET', '', ' ', '-1', 'x'.repeat(100_000), '\u0000', '../../etc/passwd', 'https://'),
  fc.constantFrom(-1, 0, 1e308, -0, 2 ** 53 + 1, 0.5),
  // Would show on Object.prototype if a merge followed a "__proto__" key.
  fc.constant({ polluted: true }),
);

/** Every JSON path (object keys and array indexes) of a value. */
function pathsOf(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (!value || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([key, child]) => pathsOf(child, [...prefix, key]))];
}

type Edit = { path: number; action: 'delete' | 'replace' | 'add-key'; key: string; value: unknown };
const edit = fc.record({
  path: fc.nat(),
  action: fc.constantFrom('delete' as const, 'replace' as const, 'add-key' as const),
  key: fc.oneof(fc.constantFrom(...NASTY_KEYS), fc.string({ maxLength: 12 })),
  value: nastyValue,
});

/** Applies edits to a deep copy of the valid configuration (paths are picked among the copy's paths at that moment). */
function edited(edits: Edit[]): unknown {
  let doc: unknown = structuredClone(base);
  for (const { path, action, key, value: generated } of edits) {
    // A copy: fast-check may hand the same value to two edits, and later edits change the document in place.
    const value = structuredClone(generated);
    const paths = pathsOf(doc);
    const target = paths[path % paths.length]!;
    if (target.length === 0) {
      doc = action === 'replace' ? value : doc;
      continue;
    }
    const parent = target.slice(0, -1).reduce<unknown>((node, part) => (node as Record<string | number, unknown>)[part], doc) as Record<string | number, unknown>;
    const last = target.at(-1)!;
    if (action === 'delete') {
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last];
    } else if (action === 'replace') parent[last] = value;
    else {
      const node = parent[last];
      // JSON.parse makes "__proto__" an own property; defineProperty does the same here.
      if (node && typeof node === 'object' && !Array.isArray(node)) Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
      else parent[last] = { [key]: value };
    }
  }
  return doc;
}

describe('configuration loader', () => {
  it('the unmutated configuration loads (the control)', async () => {
    const outcome = await loadText(JSON.stringify(base));
    expect('config' in outcome && outcome.config.providers.map((p) => p.id)).toEqual(['local', 'acme-saml', 'okta']);
  });

  it('any JSON value as the file: a valid config or a list of readable problems', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ ...(v && typeof v === 'object' && !Array.isArray(v) ? v : { value: v }) })), fc.string()), async (text) => {
        const outcome = await loadText(text);
        if ('problems' in outcome) expectReadableProblems(outcome.problems);
        else expect(outcome.config.port).toBeGreaterThan(0);
      }),
      runParameters(150),
    );
    expect(Object.prototype).not.toHaveProperty('polluted');
  }, PROPERTY_TEST_TIMEOUT_MS);

  it('random edits of a valid file: a valid config that loads the same from disk again, or a list of readable problems', async () => {
    const seen = { valid: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 4 }), fc.constantFrom(0, 2, '\t'), async (edits, indent) => {
        const doc = edited(edits);
        const outcome = await loadText(JSON.stringify(doc, null, indent));
        if ('problems' in outcome) {
          seen.refused++;
          expectReadableProblems(outcome.problems);
          return;
        }
        seen.valid++;
        // Round trip: the same settings written again (another layout) load to the same configuration.
        const again = await loadText(JSON.stringify(JSON.parse(JSON.stringify(doc)), null, indent === 0 ? 4 : 0));
        expect('config' in again).toBe(true);
        if ('config' in again) expect(comparable(again.config)).toEqual(comparable(outcome.config));
      }),
      runParameters(150),
    );
    expect(Object.prototype).not.toHaveProperty('polluted');
    // Both branches ran: some edits keep the file valid (the round trip was checked), others break it.
    expect(seen.valid).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  }, PROPERTY_TEST_TIMEOUT_MS);

  it('any JSON as a providers/*.json file next to a valid configuration: a valid config or a list of readable problems', async () => {
    const providersDir = join(dir, 'providers');
    mkdirSync(providersDir);
    const provider = base.providers as Array<Record<string, unknown>>;
    // A valid provider file, edited at random (or replaced by any JSON or text).
    const fileText = fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.string(),
      fc.tuple(fc.constantFrom(...provider), fc.constantFrom('id', 'type', 'name', 'domains', 'config'), nastyValue).map(([p, k, v]) => JSON.stringify({ ...p, id: 'from-file', [k]: v })),
    );
    await fc.assert(
      fc.asyncProperty(fileText, async (text) => {
        writeFileSync(join(providersDir, 'upstream.json'), text);
        const outcome = await loadText(JSON.stringify({ ...base, providersDir }));
        if ('problems' in outcome) expectReadableProblems(outcome.problems);
        else expect(outcome.config.providers.length).toBeGreaterThanOrEqual(3);
      }),
      runParameters(100),
    );
  }, PROPERTY_TEST_TIMEOUT_MS);

  it('arbitrary override variables next to a valid file: a valid config or a list of readable problems', async () => {
    const names = ['PORT', 'ISSUER', 'COOKIE_KEYS', 'VAULT_KEYS', 'REDIS_URL', 'TRUST_PROXY', 'METRICS_ENABLED', 'LOG_LEVEL', 'SESSION_TTL', 'OKTA_SECRET', 'COOKIE_KEYS_FILE', 'NODE_ENV'];
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...names), fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('production', '0', '65536', 'true', '/nonexistent/file'))), async (env) => {
        const outcome = await loadText(JSON.stringify(base), env);
        if ('problems' in outcome) expectReadableProblems(outcome.problems);
        else expect(outcome.config.providers.length).toBe(3);
      }),
      runParameters(100),
    );
  }, PROPERTY_TEST_TIMEOUT_MS);
});
