// Slows password guessing: every local login attempt is counted per username and per client IP before the password is checked; over a limit, it is refused unchecked.
import { createHash } from 'node:crypto';
import type { KeyValueStore } from '../store/store.js';

export interface ThrottleLimits {
  /** Failed (or unfinished) attempts per username (any IP) before refusing. */
  perUser: number;
  /** Failed (or unfinished) attempts per client IP (any username) before refusing. */
  perIp: number;
  /** Counting window and lock-out time, ms: counted from the first attempt of the window. */
  windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = { perUser: 10, perIp: 50, windowMs: 15 * 60_000 };

const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

/**
 * Count first, then verify: `reserve` takes one attempt from the username's and the IP's budgets with the store's
 * atomic increment, so of N parallel attempts at most `limit` get through to password verification, on any number of
 * instances. An attempt stays counted unless `succeeded` is called: a right password clears the username's counter
 * and gives the IP its attempt back (so a busy office behind one address is limited by its failures only).
 */
export class LoginThrottle {
  constructor(
    private readonly store: KeyValueStore,
    private readonly limits: ThrottleLimits = DEFAULT_THROTTLE,
  ) {}

  /** Seconds to tell a refused client to wait (Retry-After): the whole window. */
  get retryAfterSeconds(): number {
    return Math.ceil(this.limits.windowMs / 1000);
  }

  private keys(connectorId: string, username: string, ip: string) {
    const address = digest(ip);
    return {
      user: `throttle:user:${connectorId}:${digest(username.trim().toLowerCase())}`,
      ip: `throttle:ip:${address}`,
      /** Attempts of this IP that succeeded: given back, so only failures count against the IP. */
      ipSucceeded: `throttle:ip-ok:${address}`,
    };
  }

  /**
   * Counts one attempt for this username and IP before the password is checked. False when either is over its limit:
   * refuse without checking the password.
   */
  async reserve(connectorId: string, username: string, ip: string): Promise<boolean> {
    const keys = this.keys(connectorId, username, ip);
    const [user, byIp, succeeded] = await Promise.all([
      this.store.increment(keys.user, this.limits.windowMs),
      this.store.increment(keys.ip, this.limits.windowMs),
      this.store.get<number>(keys.ipSucceeded),
    ]);
    return user <= this.limits.perUser && byIp - (succeeded ?? 0) <= this.limits.perIp;
  }

  /** The reserved attempt had the right password: clears the username's counter and gives the IP its attempt back. */
  async succeeded(connectorId: string, username: string, ip: string): Promise<void> {
    const keys = this.keys(connectorId, username, ip);
    const [, remainingMs] = await Promise.all([this.store.delete(keys.user), this.store.ttl(keys.ip)]);
    // The give-back counter ends with the IP's window, so it never carries over into the next one.
    if (remainingMs !== undefined && remainingMs > 0 && Number.isFinite(remainingMs)) await this.store.increment(keys.ipSucceeded, Math.ceil(remainingMs));
  }
}
