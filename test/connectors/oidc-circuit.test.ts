// The OIDC connector's circuit against a real upstream oidc-provider: 5xx and refused connections open it, invalid_grant never does; the gauge and audit follow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { AuditInput } from '../../src/audit/auditor.js';
import { ConnectorError, type Identity } from '../../src/connectors/connector.js';
import { CircuitOpenError } from '../../src/connectors/circuit-breaker.js';
import { circuitBreakers } from '../../src/connectors/circuit-report.js';
import { oidcConnectorFactory, type OidcConnector } from '../../src/connectors/oidc.js';
import { UpstreamDownError } from '../../src/connectors/upstream-down.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { countingTokenFetch, startCountingUpstream, testConnectorContext, type TestUpstream } from '../helpers/upstream-oidc.js';

const THRESHOLD = 3;
let upstream: TestUpstream;
let state: { refreshes: number; down: boolean };
/** Token requests the connector sent to the upstream. */
const tokenPosts = countingTokenFetch();

beforeAll(async () => {
  ({ upstream, state } = await startCountingUpstream('http://127.0.0.1:9'));
});
afterAll(async () => {
  await upstream.close();
});

/** A connector with a breaker wired as the app wires it (audit, gauge), on a clock the test moves. */
async function connectorWithCircuit() {
  let now = Date.now();
  const audit: AuditInput[] = [];
  const metrics = createMetrics({ defaults: false });
  const breakers = circuitBreakers({
    settings: { failureThreshold: THRESHOLD, cooldownMs: 30_000 },
    now: () => now,
    logger: pino({ level: 'silent' }),
    audit: (event) => audit.push(event),
    setState: (connector, s) => metrics.upstreamCircuit.set({ connector }, { closed: 0, half_open: 1, open: 2 }[s]),
  });
  const config = oidcConnectorFactory.configSchema.parse(upstream.connectorConfig());
  const c = (await oidcConnectorFactory.create({ id: 'acme', name: 'ACME', domains: [] }, config, testConnectorContext({ circuitBreaker: breakers, fetch: tokenPosts.fetch }))) as OidcConnector;
  const gauge = async () => (await metrics.registry.getSingleMetricAsString('vestibule_upstream_circuit_state')).split('\n').find((l) => l.startsWith('vestibule_upstream_circuit_state{'));
  return { c, audit, gauge, advance: (ms: number) => (now += ms) };
}

async function signedIn(c: OidcConnector): Promise<Identity> {
  const start = await c.startLogin({ interactionUid: 'uid-1', callbackUrl: upstream.callbackUrl, state: `s-${Math.random()}` });
  const callback = await upstream.browserLogin(start.redirectUrl as string);
  return c.handleCallback({ method: 'GET', params: Object.fromEntries(callback.searchParams), url: callback }, start.transactionData);
}

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as ConnectorError);

describe('the OIDC connector behind its circuit', () => {
  it('invalid_grant (the token\'s fault) never opens it, however often', async () => {
    const { c, audit } = await connectorWithCircuit();
    const identity = await signedIn(c);
    const revoked = { ...identity, upstreamTokens: { ...identity.upstreamTokens!, refreshToken: 'not-a-refresh-token' } };
    for (let i = 0; i < THRESHOLD * 2; i++) expect((await failure(c.refresh(revoked)))?.code).toBe('upstream_revoked');
    expect(audit).toEqual([]);
    expect((await c.refresh(identity)).subject).toBe('sub-alice');
  });

  it('a 5xx token endpoint is an outage (503, names the provider); after the threshold calls fail fast and stop reaching it; the probe after the cooldown closes it', async () => {
    const { c, audit, gauge, advance } = await connectorWithCircuit();
    const identity = await signedIn(c);
    expect(await gauge()).toBe('vestibule_upstream_circuit_state{connector="acme"} 0');
    state.down = true;
    try {
      const postsAtStart = tokenPosts.posts();
      for (let i = 0; i < THRESHOLD; i++) {
        const error = await failure(c.refresh(identity));
        expect(error).toBeInstanceOf(UpstreamDownError);
        expect(error).toMatchObject({ code: 'upstream_unavailable', status: 503, connectorId: 'acme' });
      }
      expect(audit).toEqual([expect.objectContaining({ event: 'upstream.circuit', outcome: 'failure', connectorId: 'acme', reason: 'failures', details: { from: 'closed', to: 'open', failures: THRESHOLD } })]);
      expect(await gauge()).toBe('vestibule_upstream_circuit_state{connector="acme"} 2');
      expect(tokenPosts.posts() - postsAtStart).toBe(THRESHOLD);
      const before = tokenPosts.posts();
      const fast = await failure(c.refresh(identity));
      expect(fast).toBeInstanceOf(CircuitOpenError);
      expect(fast?.code).toBe('upstream_circuit_open');
      // A sign-in start fails fast too, naming the interrupted sign-in for the provider-down page.
      const start = await failure(c.startLogin({ interactionUid: 'uid-2', callbackUrl: upstream.callbackUrl, state: 's' }));
      expect(start).toMatchObject({ code: 'upstream_circuit_open', interactionUid: 'uid-2' });
      expect(tokenPosts.posts()).toBe(before);
    } finally {
      state.down = false;
    }
    // After the cooldown the upstream is back: the probe (the sign-in start's discovery request) closes the circuit.
    advance(30_000);
    await c.startLogin({ interactionUid: 'uid-3', callbackUrl: upstream.callbackUrl, state: 's' });
    expect(audit.map((e) => e.reason)).toEqual(['failures', 'cooldown_elapsed', 'probe_succeeded']);
    expect(await gauge()).toBe('vestibule_upstream_circuit_state{connector="acme"} 0');
    expect((await c.refresh(identity)).subject).toBe('sub-alice');
  });
});
