// The circuit breaker's state machine with an injected clock: opening, cooldown, the single probe, recovery, late results.
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, CircuitOpenError, type CircuitTransition } from '../../src/connectors/circuit-breaker.js';
import { circuitFetch } from '../../src/connectors/circuit-fetch.js';

function breaker(failureThreshold = 3, cooldownMs = 30_000) {
  let now = 1_000_000;
  const transitions: CircuitTransition[] = [];
  const b = new CircuitBreaker('corp', { failureThreshold, cooldownMs }, () => now, (t) => transitions.push(t));
  return { b, transitions, advance: (ms: number) => (now += ms) };
}

const fail = (b: CircuitBreaker, times: number) => {
  for (let i = 0; i < times; i++) b.acquire().failed();
};

describe('circuit breaker', () => {
  it('stays closed below the threshold and a success resets the count', () => {
    const { b, transitions } = breaker(3);
    fail(b, 2);
    b.acquire().succeeded();
    fail(b, 2);
    expect(b.state).toBe('closed');
    expect(transitions).toEqual([]);
  });

  it('opens after N consecutive failures and then refuses without calling, with the remaining cooldown', () => {
    const { b, transitions, advance } = breaker(3, 30_000);
    fail(b, 3);
    expect(b.state).toBe('open');
    expect(transitions).toEqual([{ from: 'closed', to: 'open', reason: 'failures', failures: 3 }]);
    advance(10_000);
    const refused = (() => {
      try {
        b.acquire();
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(refused).toMatchObject({ code: 'upstream_circuit_open', status: 503, connectorId: 'corp', retryAfterMs: 20_000 });
  });

  it('after the cooldown exactly one probe goes through; concurrent callers fail fast while it is in flight', () => {
    const { b, transitions, advance } = breaker(2, 5_000);
    fail(b, 2);
    advance(5_000);
    const probe = b.acquire();
    expect(b.state).toBe('half_open');
    for (let i = 0; i < 5; i++) expect(() => b.acquire()).toThrow(CircuitOpenError);
    expect(() => b.acquire()).toThrow(expect.objectContaining({ retryAfterMs: 0 }));
    probe.succeeded();
    expect(b.state).toBe('closed');
    expect(transitions.map((t) => `${t.to}:${t.reason}`)).toEqual(['open:failures', 'half_open:cooldown_elapsed', 'closed:probe_succeeded']);
    // Closed again: calls go through and the failure count starts from zero.
    b.acquire().failed();
    expect(b.state).toBe('closed');
  });

  it('a failed probe re-opens for a full cooldown', () => {
    const { b, transitions, advance } = breaker(1, 5_000);
    fail(b, 1);
    advance(6_000);
    b.acquire().failed();
    expect(b.state).toBe('open');
    expect(transitions.at(-1)).toMatchObject({ from: 'half_open', to: 'open', reason: 'probe_failed' });
    advance(4_999);
    expect(() => b.acquire()).toThrow(CircuitOpenError);
    advance(1);
    expect(() => b.acquire()).not.toThrow();
  });

  it('a result from a call started before the circuit opened moves nothing', () => {
    const { b, advance } = breaker(2, 5_000);
    const slow = b.acquire();
    fail(b, 2);
    slow.succeeded();
    expect(b.state).toBe('open');
    advance(5_000);
    const probe = b.acquire();
    slow.failed();
    expect(b.state).toBe('half_open');
    probe.succeeded();
    expect(b.state).toBe('closed');
  });

  it('a permit counts once, however often it is reported', () => {
    const { b } = breaker(2);
    const permit = b.acquire();
    permit.failed();
    permit.failed();
    expect(b.state).toBe('closed');
  });

  it('run() counts only the errors the caller calls failures (a 4xx answer keeps it closed)', async () => {
    const { b } = breaker(1);
    await expect(b.run(() => Promise.reject(new Error('invalid_grant')), () => false)).rejects.toThrow('invalid_grant');
    expect(b.state).toBe('closed');
    await expect(b.run(() => Promise.reject(new Error('ECONNREFUSED')), () => true)).rejects.toThrow('ECONNREFUSED');
    expect(b.state).toBe('open');
  });
});

describe('circuit fetch', () => {
  const answering = (status: number): typeof fetch => async () => new Response(null, { status });

  it('a 5xx and a network error count as failures, a 4xx does not', async () => {
    const { b } = breaker(2);
    await circuitFetch(b, answering(400))('http://upstream.test/token');
    await circuitFetch(b, answering(503))('http://upstream.test/token');
    expect(b.state).toBe('closed');
    await expect(circuitFetch(b, () => Promise.reject(new TypeError('fetch failed')))('http://upstream.test/token')).rejects.toThrow('fetch failed');
    expect(b.state).toBe('open');
  });

  it('an open circuit refuses before the underlying fetch is called', async () => {
    const { b } = breaker(1);
    b.acquire().failed();
    let calls = 0;
    const counted: typeof fetch = async () => {
      calls++;
      return new Response(null, { status: 200 });
    };
    await expect(circuitFetch(b, counted)('http://upstream.test/token')).rejects.toBeInstanceOf(CircuitOpenError);
    expect(calls).toBe(0);
  });
});
