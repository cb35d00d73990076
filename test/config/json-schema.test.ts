// The published JSON Schemas in schemas/ are exactly what the zod schemas generate (run `npm run config-schema` after a change).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, providerJsonSchema } from '../../src/config/json-schema.js';

describe('published JSON Schemas', () => {
  it('schemas/config.schema.json is up to date', () => {
    expect(JSON.parse(readFileSync('schemas/config.schema.json', 'utf8'))).toEqual(configJsonSchema());
  });
  it('schemas/provider.schema.json is up to date', () => {
    expect(JSON.parse(readFileSync('schemas/provider.schema.json', 'utf8'))).toEqual(providerJsonSchema());
  });
  it('describes the settings users edit', () => {
    const properties = (configJsonSchema() as { properties: Record<string, unknown> }).properties;
    expect(Object.keys(properties)).toEqual(expect.arrayContaining(['issuer', 'clients', 'store', 'providersDir', 'tokens', 'session', 'cookieKeys', 'jwksFile']));
  });
});
