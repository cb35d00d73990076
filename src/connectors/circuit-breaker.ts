// A per-connector circuit breaker: closed -> open after N consecutive upstream failures -> one probe (half-open) -> closed or open again.
import { UpstreamDownError } from './upstream-down.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitSettings {
  /** Consecutive upstream failures (timeouts, connection errors, 5xx) that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before it lets one probe through, ms. */
  cooldownMs: number;
}

/** Why a transition happened, for logs and the audit trail (never a token or an upstream body). */
export interface CircuitTransition {
  from: CircuitState;
  to: CircuitState;
  /** `failures` (threshold reached), `cooldown_elapsed` (probe sent), `probe_succeeded` or `probe_failed`. */
  reason: 'failures' | 'cooldown_elapsed' | 'probe_succeeded' | 'probe_failed';
  /** Consecutive failures counted when the circuit opened. */
  failures: number;
}

/** Refused without calling the upstream: its circuit is open, or its one probe is in flight. */
export class CircuitOpenError extends UpstreamDownError {
  /** `retryAfterMs`: when a probe may be tried, ms from now (0 while a probe is in flight). */
  constructor(connectorId: string, retryAfterMs: number) {
    super(connectorId, 'upstream_circuit_open', `upstream ${connectorId} is failing: its circuit is open, the call was not made`, { retryAfterMs });
  }
}

/** The right to make one upstream call; report how it went exactly once (later reports are ignored). */
export interface CircuitPermit {
  succeeded(): void;
  failed(): void;
}

/**
 * The state machine, synchronous and clock-injected. Only calls let through in the current generation move it: a result
 * from a call started before the circuit opened is ignored, so a late success cannot close an open circuit.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private generation = 0;

  constructor(
    readonly connectorId: string,
    private readonly settings: CircuitSettings,
    private readonly now: () => number,
    private readonly onTransition: (transition: CircuitTransition) => void = () => {},
  ) {}

  get state(): CircuitState {
    return this.current;
  }

  /** Lets a call through, or throws CircuitOpenError (open within the cooldown, or a probe already in flight). */
  acquire(): CircuitPermit {
    if (this.current === 'half_open') throw new CircuitOpenError(this.connectorId, 0);
    if (this.current === 'open') {
      const remaining = this.openedAt + this.settings.cooldownMs - this.now();
      if (remaining > 0) throw new CircuitOpenError(this.connectorId, remaining);
      this.move('half_open', 'cooldown_elapsed');
      return this.permit(this.generation, true);
    }
    return this.permit(this.generation, false);
  }

  /** Runs `call` under a permit; `isFailure` says which errors count against the upstream (others count as an answer). */
  async run<T>(call: () => Promise<T>, isFailure: (error: unknown) => boolean): Promise<T> {
    const permit = this.acquire();
    try {
      const result = await call();
      permit.succeeded();
      return result;
    } catch (error) {
      if (isFailure(error)) permit.failed();
      else permit.succeeded();
      throw error;
    }
  }

  private permit(generation: number, probe: boolean): CircuitPermit {
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled || generation !== this.generation) return;
      settled = true;
      if (probe) this.move(ok ? 'closed' : 'open', ok ? 'probe_succeeded' : 'probe_failed');
      else if (ok) this.failures = 0;
      else if (++this.failures >= this.settings.failureThreshold) this.move('open', 'failures');
    };
    return { succeeded: () => settle(true), failed: () => settle(false) };
  }

  private move(to: CircuitState, reason: CircuitTransition['reason']): void {
    const transition: CircuitTransition = { from: this.current, to, reason, failures: this.failures };
    this.current = to;
    this.generation++;
    if (to === 'open') this.openedAt = this.now();
    if (to === 'closed') this.failures = 0;
    this.onTransition(transition);
  }
}
