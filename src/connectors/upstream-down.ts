// The typed error of an upstream that is down (timeout, connection refused, 5xx, circuit open): it names the provider.
import { ConnectorError } from './connector.js';

/** The codes an upstream outage is reported under; anything else is an answer (the user's or the token's fault). */
export type UpstreamDownCode = 'upstream_timeout' | 'upstream_unavailable' | 'upstream_circuit_open';

/**
 * A sign-in or a check could not reach the upstream. Always 503: the broker is fine, try again later or use another
 * provider. `retryAfterMs` is when a retry may help (the circuit's remaining cooldown), when known.
 */
export class UpstreamDownError extends ConnectorError {
  constructor(
    readonly connectorId: string,
    code: UpstreamDownCode,
    detail: string,
    options: { cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super(code, detail, { status: 503, cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
  }

  readonly retryAfterMs: number | undefined;
  /** The sign-in (oidc-provider interaction uid) this outage interrupted, when a sign-in was under way. */
  interactionUid: string | undefined;

  /** Names the interrupted sign-in (its page then offers the client's other providers); returns this error. */
  during(interactionUid: string | undefined): this {
    this.interactionUid ??= interactionUid;
    return this;
  }
}

export const isUpstreamDown = (error: unknown): error is UpstreamDownError => error instanceof UpstreamDownError;
