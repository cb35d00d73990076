// The shipped providers/examples/*.json for OIDC upstreams validate against the provider envelope and the oidc config schema.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { providerFileSchema } from '../../src/config/schema.js';
import { resolveSecretRefs } from '../../src/config/secret-refs.js';
import { claimMappingSchema } from '../../src/connectors/claims.js';
import { oidcConnectorFactory } from '../../src/connectors/oidc.js';

const EXAMPLES = ['generic-oidc', 'google', 'entra-id', 'okta', 'keycloak'];
const env = new Proxy({}, { get: (_t, name) => (typeof name === 'string' ? `value-of-${name}` : undefined) }) as Record<string, string>;

describe('OIDC provider examples', () => {
  for (const name of EXAMPLES) {
    it(`${name}.json is a valid oidc provider file`, () => {
      const raw = JSON.parse(readFileSync(new URL(`../../providers/examples/${name}.json`, import.meta.url), 'utf8')) as unknown;
      const errors: string[] = [];
      const resolved = resolveSecretRefs(raw, env, errors);
      expect(errors).toEqual([]);
      const envelope = providerFileSchema.parse(resolved);
      expect(envelope.type).toBe('oidc');
      const config = oidcConnectorFactory.configSchema.safeParse(envelope.config);
      expect(config.success ? [] : config.error.issues).toEqual([]);
      expect(config.data!.issuer.startsWith('https://')).toBe(true);
      expect(config.data!.allowInsecureRequests).toBe(false);
    });
  }

  it('documents every config field in docs/providers-oidc.md', () => {
    const doc = readFileSync(new URL('../../docs/providers-oidc.md', import.meta.url), 'utf8');
    const fields = [...Object.keys(oidcConnectorFactory.configSchema.shape), ...Object.keys(claimMappingSchema.shape)];
    expect(fields.length).toBeGreaterThan(30);
    for (const field of fields) expect(doc, `field ${field}`).toContain(`\`${field}\``);
  });
});
