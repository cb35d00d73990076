// Velocity signal: failed sign-ins of the account (account-record.ts, exact) and from the address (a sliding-window estimate from two atomic store counters).
import type { KeyValueStore } from '../../store/store.js';
import type { SignalHit } from '../types.js';

/**
 * Failures per address in a sliding window, estimated from fixed windows as rate limiters do: the current window's
 * count plus the previous one's weighted by how much of it the sliding window still covers. Each failure is one atomic
 * increment (concurrent failures on any instance all count); the two counters are plain values, so an evaluation reads
 * them in the same step as the account's locks.
 */
export class AddressFailures {
  constructor(
    private readonly store: KeyValueStore,
    private readonly windowMs: number,
  ) {}

  /** The counters to read at `now`: the current window's, then the previous one's. */
  keys(ip: string, now: number): [string, string] {
    const window = Math.floor(now / this.windowMs);
    return [`risk-ip-failures:${ip}:${window}`, `risk-ip-failures:${ip}:${window - 1}`];
  }

  async add(ip: string, now: number): Promise<void> {
    // Kept two windows: it is the previous window while the next one runs.
    await this.store.increment(this.keys(ip, now)[0], 2 * this.windowMs);
  }

  /** The estimate from the counters read at `now` (absent: 0). */
  estimate(current: number | undefined, previous: number | undefined, now: number): number {
    const covered = 1 - (now % this.windowMs) / this.windowMs;
    return (current ?? 0) + Math.floor((previous ?? 0) * covered);
  }

  async count(ip: string, now: number): Promise<number> {
    const [current, previous] = await this.store.getMany<number>(this.keys(ip, now));
    return this.estimate(current, previous, now);
  }
}

export function velocitySignal(accountFailures: number, ipFailures: number, limits: { accountFailures: number; ipFailures: number }): SignalHit[] {
  const hits: SignalHit[] = [];
  if (accountFailures >= limits.accountFailures) hits.push({ signal: 'velocity.account', detail: `${accountFailures} failures` });
  if (ipFailures >= limits.ipFailures) hits.push({ signal: 'velocity.ip', detail: `${ipFailures} failures` });
  return hits;
}
