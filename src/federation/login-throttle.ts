// Slows password guessing: failed local logins are counted per username and per client IP in the store; over the limit, logins are refused for a while.
import { createHash } from 'node:crypto';
import type { KeyValueStore } from '../store/store.js';

export interface ThrottleLimits {
  /** Failures per username (any IP) before refusing. */
  perUser: number;
  /** Failures per client IP (any username) before refusing. */
  perIp: number;
  /** Counting window and lock-out time, ms. */
  windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = { perUser: 10, perIp: 50, windowMs: 15 * 60_000 };

const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

export class LoginThrottle {
  constructor(
    private readonly store: KeyValueStore,
    private readonly limits: ThrottleLimits = DEFAULT_THROTTLE,
  ) {}

  private keys(connectorId: string, username: string, ip: string) {
    return {
      user: `throttle:user:${connectorId}:${digest(username.trim().toLowerCase())}`,
      ip: `throttle:ip:${digest(ip)}`,
    };
  }

  /** True when this username or IP has failed too often recently. */
  async blocked(connectorId: string, username: string, ip: string): Promise<boolean> {
    const keys = this.keys(connectorId, username, ip);
    const [user, byIp] = await this.store.getMany<number>([keys.user, keys.ip]);
    return (user ?? 0) >= this.limits.perUser || (byIp ?? 0) >= this.limits.perIp;
  }

  async recordFailure(connectorId: string, username: string, ip: string): Promise<void> {
    const keys = this.keys(connectorId, username, ip);
    await Promise.all([this.store.increment(keys.user, this.limits.windowMs), this.store.increment(keys.ip, this.limits.windowMs)]);
  }

  /** A successful login clears the username's counter (not the IP's). */
  async recordSuccess(connectorId: string, username: string, ip: string): Promise<void> {
    await this.store.delete(this.keys(connectorId, username, ip).user);
  }
}
