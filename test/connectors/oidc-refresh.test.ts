// Upstream token refresh before expiry through the real OIDC connector and a real upstream: exactly once under concurrency.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { oidcConnectorFactory, type OidcConnector } from '../../src/connectors/oidc.js';
import { createTokenVault } from '../../src/session/vault.js';
import { MemoryStore } from '../../src/store/memory.js';
import { startTestUpstream, testConnectorContext, type TestUpstream } from '../helpers/upstream-oidc.js';

const MIN = 60_000;
let up: TestUpstream;
const grants: string[] = [];

beforeAll(async () => {
  up = await startTestUpstream({
    configure: (provider) =>
      provider.use(async (ctx, next) => {
        await next();
        if (ctx.path === '/token' && ctx.status === 200) grants.push((ctx as unknown as { oidc: { params: { grant_type: string } } }).oidc.params.grant_type);
      }),
  });
});
afterAll(async () => {
  await up.close();
});

async function sessionWithTokens(expiresInMs: number) {
  // One fake clock for the connector (which stamps expiresAt) and the vault (which decides when to refresh).
  let t = Date.now();
  const now = () => t;
  const connector = (await oidcConnectorFactory.create(
    { id: 'upstream', name: 'Up', domains: [] },
    oidcConnectorFactory.configSchema.parse(up.connectorConfig()),
    testConnectorContext({ now }),
  )) as OidcConnector;
  const start = await connector.startLogin({ interactionUid: 'u', callbackUrl: up.callbackUrl, state: randomBytes(8).toString('hex') });
  const callback = await up.browserLogin(start.redirectUrl as string);
  const identity = await connector.handleCallback({ method: 'GET', params: Object.fromEntries(callback.searchParams), url: callback }, start.transactionData);
  const tokens = identity.upstreamTokens!;
  // Move the clock so that the upstream access token has `expiresInMs` left.
  t = (tokens.expiresAt as number) - expiresInMs;
  const store = new MemoryStore({ sweepMs: 0 });
  const keys = [randomBytes(32)];
  const vaults = [createTokenVault({ store, keys, now, pollMs: 10 }), createTokenVault({ store, keys, now, pollMs: 10 })];
  await vaults[0]!.save('sess', 'upstream', tokens);
  grants.length = 0;
  return { connector, vaults, tokens };
}

it('an upstream access token 4 minutes from expiry is refreshed exactly once under 20 concurrent requests', async () => {
  const { connector, vaults, tokens } = await sessionWithTokens(4 * MIN);
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => vaults[i % 2]!.getFresh('sess', connector)));
  expect(grants).toEqual(['refresh_token']);
  const accessTokens = new Set(results.map((r) => r?.tokens.accessToken));
  expect(accessTokens.size).toBe(1);
  expect(accessTokens.has(tokens.accessToken)).toBe(false);
  const stored = await vaults[1]!.get('sess');
  expect(stored?.tokens.refreshToken).not.toBe(tokens.refreshToken); // the upstream rotated it; the vault kept the new one
  // The rotated refresh token works (the old one would be invalid_grant).
  const again = await connector.refresh({ connectorId: 'upstream', subject: '', groups: [], amr: [], rawClaims: {}, upstreamTokens: stored!.tokens });
  expect(again.upstreamTokens?.accessToken).toBeTruthy();
});

it('an upstream access token 10 minutes from expiry is not refreshed', async () => {
  const { connector, vaults, tokens } = await sessionWithTokens(10 * MIN);
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => vaults[i % 2]!.getFresh('sess', connector)));
  expect(grants).toEqual([]);
  for (const r of results) expect(r?.tokens.accessToken).toBe(tokens.accessToken);
});
