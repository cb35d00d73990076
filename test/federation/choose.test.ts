// Home-realm discovery: a provider's configured domains (exact, or "*.parent" for subdomains) decide where an email goes.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Connector } from '../../src/connectors/connector.js';
import { chooseConnector } from '../../src/federation/choose.js';

/** Connectors standing for the providers as loadConfig validated them (choose reads only id and domains). */
async function connectorsFor(providers: { id: string; domains: string[] }[]): Promise<Connector[]> {
  const config = await loadConfig({
    env: {},
    file: {
      providersDir: 'test/fixtures/no-providers',
      providers: providers.map(({ id, domains }) => ({ id, type: 'oidc', name: id, domains, config: { issuer: `https://${id}.example.net`, clientId: id, clientSecret: 's'.repeat(32) } })),
    },
  });
  return config.providers.map((p) => ({ id: p.id, type: p.type, displayName: p.name, domains: p.domains }));
}

const picked = (allowed: Connector[], email: string) => {
  const result = chooseConnector(allowed, { email });
  return result.kind === 'connector' ? result.connector.id : result.kind === 'ask' ? result.connectors.map((c) => c.id) : result.code;
};

describe('chooseConnector by email domain', () => {
  it('accepts a "*.example.com" wildcard in a provider file and routes its subdomains, not the parent or look-alikes', async () => {
    const allowed = await connectorsFor([
      { id: 'subs', domains: ['*.Example.com'] },
      { id: 'other', domains: ['other.test'] },
    ]);
    expect(allowed.find((c) => c.id === 'subs')!.domains).toEqual(['*.example.com']);
    expect(picked(allowed, 'ann@eu.example.com')).toBe('subs');
    expect(picked(allowed, 'ann@A.B.EXAMPLE.COM')).toBe('subs');
    expect(picked(allowed, 'ann@example.com')).toEqual(['subs', 'other']);
    expect(picked(allowed, 'ann@badexample.com')).toEqual(['subs', 'other']);
    expect(picked(allowed, 'ann@other.test')).toBe('other');
  });

  it('prefers an exact domain over a wildcard that also covers it', async () => {
    const allowed = await connectorsFor([
      { id: 'wild', domains: ['*.example.com'] },
      { id: 'exact', domains: ['eu.example.com'] },
    ]);
    expect(picked(allowed, 'ann@eu.example.com')).toBe('exact');
    expect(picked(allowed, 'ann@us.example.com')).toBe('wild');
  });

  it('refuses malformed domains and wildcards, naming each', async () => {
    const error = await connectorsFor([{ id: 'bad', domains: ['*example.com', '*.com', 'a.*.example.com', '**.example.com'] }]).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const problems = (error as { problems?: string[] }).problems ?? [];
    expect(problems).toEqual([0, 1, 2, 3].map((i) => expect.stringMatching(new RegExp(`^providers\\[0\\]: domains\\[${i}\\]: must be a domain name`))));
  });
});
