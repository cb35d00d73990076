// The shipped providers/examples/*.json for SAML upstreams validate, and docs/providers-saml.md documents every config field.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { providerFileSchema } from '../../src/config/schema.js';
import { resolveSecretRefs } from '../../src/config/secret-refs.js';
import { samlConfigSchema } from '../../src/connectors/saml.js';

const EXAMPLES = ['generic-saml', 'adfs', 'entra-id-saml', 'okta-saml', 'simplesamlphp'];
const env = new Proxy({}, { get: (_t, name) => (typeof name === 'string' ? `value-of-${name}` : undefined) }) as Record<string, string>;

describe('SAML provider examples', () => {
  for (const name of EXAMPLES) {
    it(`${name}.json is a valid saml provider file`, () => {
      const raw = JSON.parse(readFileSync(new URL(`../../providers/examples/${name}.json`, import.meta.url), 'utf8')) as unknown;
      const errors: string[] = [];
      const envelope = providerFileSchema.parse(resolveSecretRefs(raw, env, errors));
      expect(errors).toEqual([]);
      expect(envelope.type).toBe('saml');
      const config = samlConfigSchema.safeParse(envelope.config);
      expect(config.success ? [] : config.error.issues).toEqual([]);
      expect(config.data!.allowSha1).toBe(false);
      expect(config.data!.idp.metadataUrl!.startsWith('https://')).toBe(true);
    });
  }

  it('documents every config field in docs/providers-saml.md', () => {
    const doc = readFileSync(new URL('../../docs/providers-saml.md', import.meta.url), 'utf8');
    const fields = Object.keys(samlConfigSchema.shape);
    expect(fields.length).toBe(16);
    for (const field of fields) expect(doc, `field ${field}`).toContain(`\`${field}\``);
  });
});
