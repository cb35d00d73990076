// A fetch guarded by a connector's circuit breaker: refused while open; timeouts, connection errors and 5xx count as failures.
import type { CircuitBreaker } from './circuit-breaker.js';

/**
 * Every upstream call of one connector goes through here (discovery, JWKS, token, userinfo, refresh). A 4xx is an
 * answer (the upstream is up; invalid_grant is the token's fault), so it counts as a success for the circuit.
 */
export function circuitFetch(breaker: CircuitBreaker, fetchImpl?: typeof fetch): typeof fetch {
  return async (input, init) => {
    const permit = breaker.acquire();
    let response: Response;
    try {
      response = await (fetchImpl ?? fetch)(input, init);
    } catch (error) {
      permit.failed();
      throw error;
    }
    if (response.status >= 500) permit.failed();
    else permit.succeeded();
    return response;
  };
}
