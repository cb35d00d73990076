// Smart lockout (after Entra's): failed sign-ins counted per account and origin in a sliding window; too many lock sign-in from that origin only.
import type { RiskConfig } from '../config/risk.js';
import { SIGN_IN_ORIGINS, type AccountLock, type AccountLocks, type SignInOrigin } from '../session/account-locks.js';
import type { FailureOutcome, LockoutState } from './types.js';
import { accountFailuresKey, ipFailuresKey, type SlidingWindowCounter } from './signals/velocity.js';

export const LOCKOUT_REASON = 'failed_sign_ins';

const other = (origin: SignInOrigin): SignInOrigin => (origin === 'familiar' ? 'unfamiliar' : 'familiar');

export interface HeldLocks {
  account: AccountLock | undefined;
  familiar: AccountLock | undefined;
  unfamiliar: AccountLock | undefined;
}

/** The account lock refuses every origin; a sign-in lock refuses its origin and asks the other for a second factor. */
export function lockoutStateFor(held: HeldLocks, origin: SignInOrigin): LockoutState {
  const lock = held.account ?? held[origin];
  if (lock) return { locked: true, stepUp: false, kind: held.account ? 'account' : 'sign-in', reason: lock.reason, ...(lock.expiresAt === undefined ? {} : { until: lock.expiresAt }) };
  const others = held[other(origin)];
  return others ? { locked: false, stepUp: true, reason: others.reason, ...(others.expiresAt === undefined ? {} : { until: others.expiresAt }) } : { locked: false, stepUp: false };
}

/**
 * An attacker who knows only a username signs in from a device the account never used (unfamiliar): their failures
 * lock the unfamiliar origin, and the owner's known browser (familiar) still signs in, with a second factor.
 */
export class SmartLockout {
  constructor(
    private readonly locks: Pick<AccountLocks, 'get' | 'lockSignIn' | 'signInLock'>,
    private readonly counter: SlidingWindowCounter,
    private readonly settings: Pick<RiskConfig, 'lockout' | 'velocity'>,
  ) {}

  /** Every lock of the account (read together, before the origin is known). */
  async locksOf(accountId: string): Promise<HeldLocks> {
    const [account, familiar, unfamiliar] = await Promise.all([this.locks.get(accountId), this.locks.signInLock(accountId, 'familiar'), this.locks.signInLock(accountId, 'unfamiliar')]);
    return { account, familiar, unfamiliar };
  }

  async state(accountId: string, origin: SignInOrigin): Promise<LockoutState> {
    return lockoutStateFor(await this.locksOf(accountId), origin);
  }

  /** Counts one failure of the account from this origin and address; the failure past maxFailures locks the origin. */
  async recordFailure(accountId: string, ip: string, origin: SignInOrigin, now: number): Promise<FailureOutcome> {
    const windowMs = this.settings.lockout.windowSeconds * 1000;
    const key = accountFailuresKey(accountId, origin);
    const [failures] = await Promise.all([this.counter.add(key, windowMs, now), this.counter.add(ipFailuresKey(ip), this.settings.velocity.windowSeconds * 1000, now)]);
    let lockedNow = false;
    if (failures > this.settings.lockout.maxFailures) {
      lockedNow = (await this.locks.lockSignIn(accountId, origin, LOCKOUT_REASON, this.settings.lockout.lockSeconds * 1000)) !== undefined;
      // The count starts again after the lock: its end (or an unlock) gives a fresh budget.
      if (lockedNow) await this.counter.clear(key);
    }
    return { failures, lockedNow, state: await this.state(accountId, origin) };
  }

  /** A success from an origin clears that origin's count (never the other's: the owner's success gives an attacker nothing). */
  async recordSuccess(accountId: string, origin: SignInOrigin): Promise<void> {
    await this.counter.clear(accountFailuresKey(accountId, origin));
  }

  /** Failures of the account (both origins) and of the address within the velocity window. */
  async failureCounts(accountId: string, ip: string, now: number): Promise<{ account: number; ip: number }> {
    const [familiar, unfamiliar, fromIp] = await Promise.all([
      ...SIGN_IN_ORIGINS.map((origin) => this.counter.count(accountFailuresKey(accountId, origin), now)),
      this.counter.count(ipFailuresKey(ip), now),
    ]);
    return { account: (familiar as number) + (unfamiliar as number), ip: fromIp as number };
  }
}
