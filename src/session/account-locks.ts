// Account locks kept in the store (reason, who, until when): a locked account cannot sign in and its tokens are refused; smart-lockout sign-in locks per origin.
import type { KeyValueStore } from '../store/store.js';

export interface AccountLock {
  accountId: string;
  reason: string;
  lockedAt: number;
  /** When the lock ends by itself (ms since epoch); absent: until unlocked. */
  expiresAt?: number;
}

/** Where a sign-in comes from, for the smart lockout: a device the account used before, or any other. */
export type SignInOrigin = 'familiar' | 'unfamiliar';
export const SIGN_IN_ORIGINS: readonly SignInOrigin[] = ['familiar', 'unfamiliar'];

const keyOf = (accountId: string) => `account-lock:${accountId}`;
const signInKeyOf = (accountId: string, origin: SignInOrigin) => `sign-in-lock:${origin}:${accountId}`;

/** The keys of an account's locks, in HeldLocks order: the account lock, then the familiar and unfamiliar sign-in locks. */
export const lockKeys = (accountId: string): string[] => [keyOf(accountId), signInKeyOf(accountId, 'familiar'), signInKeyOf(accountId, 'unfamiliar')];

export interface HeldLocks {
  account?: AccountLock;
  familiar?: AccountLock;
  unfamiliar?: AccountLock;
}

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

  /**
   * Smart lockout: sign-in from one origin refused for `forMs` (the account's tokens and its other origin are not
   * touched). Undefined when that origin was already locked: of concurrent lockouts exactly one reports the lock.
   */
  async lockSignIn(accountId: string, origin: SignInOrigin, reason: string, forMs: number): Promise<AccountLock | undefined> {
    const lockedAt = this.now();
    const lock: AccountLock = { accountId, reason, lockedAt, expiresAt: lockedAt + forMs };
    return (await this.store.setIfAbsent(signInKeyOf(accountId, origin), lock, forMs)) ? lock : undefined;
  }

  /** The sign-in lock of one origin while it holds. */
  async signInLock(accountId: string, origin: SignInOrigin): Promise<AccountLock | undefined> {
    const lock = await this.store.get<AccountLock>(signInKeyOf(accountId, origin));
    return lock && (lock.expiresAt === undefined || lock.expiresAt > this.now()) ? lock : undefined;
  }

  /** The account lock and both sign-in locks, read in one step (those that hold). */
  async held(accountId: string): Promise<HeldLocks> {
    return this.heldFrom(await this.store.getMany<AccountLock>(lockKeys(accountId)));
  }

  /** The locks that hold among values read at lockKeys() (a caller may read them together with other keys). */
  heldFrom(values: readonly (AccountLock | undefined)[]): HeldLocks {
    const now = this.now();
    const live = (lock: AccountLock | undefined) => (lock && (lock.expiresAt === undefined || lock.expiresAt > now) ? lock : undefined);
    const [account, familiar, unfamiliar] = values.map(live);
    return { ...(account ? { account } : {}), ...(familiar ? { familiar } : {}), ...(unfamiliar ? { unfamiliar } : {}) };
  }

  /** True when there was a lock to lift: the account lock and both sign-in locks go. */
  async unlock(accountId: string): Promise<boolean> {
    const held = await Promise.all([this.get(accountId), ...SIGN_IN_ORIGINS.map((origin) => this.signInLock(accountId, origin))]);
    await this.store.delete(keyOf(accountId), ...SIGN_IN_ORIGINS.map((origin) => signInKeyOf(accountId, origin)));
    return held.some((lock) => lock !== undefined);
  }
}
