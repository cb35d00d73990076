// Velocity signal: failed sign-ins of the account (account-record.ts) and from the address in a sliding window, counted atomically in the store.
import { randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../../store/store.js';
import type { SignalHit } from '../types.js';

/**
 * A sliding-window counter: a map of one field per event holding when it leaves the window. Adding is one atomic batch
 * (the new field, and the expired ones pruned inside the store), so concurrent adds on any instance are all counted.
 */
export class SlidingWindowCounter {
  constructor(private readonly store: KeyValueStore) {}

  /** Adds one event at `now`; answers the events within the window, this one included. */
  async add(key: string, windowMs: number, now: number): Promise<number> {
    await this.store.batch([
      { op: 'mapSet', key, field: randomBytes(9).toString('base64url'), value: now + windowMs, ttlMs: windowMs },
      { op: 'mapPrune', key, upTo: now },
    ]);
    return this.count(key, now);
  }

  async count(key: string, now: number): Promise<number> {
    let count = 0;
    for (const leavesAt of Object.values(await this.store.mapGetAll<number>(key))) if (leavesAt > now) count += 1;
    return count;
  }
}

export const ipFailuresKey = (ip: string) => `risk-failures:ip:${ip}`;

export function velocitySignal(accountFailures: number, ipFailures: number, limits: { accountFailures: number; ipFailures: number }): SignalHit[] {
  const hits: SignalHit[] = [];
  if (accountFailures >= limits.accountFailures) hits.push({ signal: 'velocity.account', detail: `${accountFailures} failures` });
  if (ipFailures >= limits.ipFailures) hits.push({ signal: 'velocity.ip', detail: `${ipFailures} failures` });
  return hits;
}
