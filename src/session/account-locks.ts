// Account locks kept in the store (reason, who, until when): a locked account cannot sign in and its tokens are refused.
import type { KeyValueStore } from '../store/store.js';

export interface AccountLock {
  accountId: string;
  reason: string;
  lockedAt: number;
  /** When the lock ends by itself (ms since epoch); absent: until unlocked. */
  expiresAt?: number;
}

const keyOf = (accountId: string) => `account-lock:${accountId}`;

export class AccountLocks {
  constructor(
    private readonly store: KeyValueStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** The account's lock while it holds (the store drops it at expiresAt). */
  async get(accountId: string): Promise<AccountLock | undefined> {
    const lock = await this.store.get<AccountLock>(keyOf(accountId));
    return lock && (lock.expiresAt === undefined || lock.expiresAt > this.now()) ? lock : undefined;
  }

  async isLocked(accountId: string): Promise<boolean> {
    return (await this.get(accountId)) !== undefined;
  }

  /** Locks (or re-locks with a new reason and expiry) the account; `forMs` undefined locks until unlock. */
  async lock(accountId: string, reason: string, forMs?: number): Promise<AccountLock> {
    const lockedAt = this.now();
    const lock: AccountLock = { accountId, reason, lockedAt, ...(forMs === undefined ? {} : { expiresAt: lockedAt + forMs }) };
    await this.store.set(keyOf(accountId), lock, forMs);
    return lock;
  }

  /** True when there was a lock to lift. */
  async unlock(accountId: string): Promise<boolean> {
    const existed = (await this.get(accountId)) !== undefined;
    await this.store.delete(keyOf(accountId));
    return existed;
  }
}
