// Smart lockout (after Entra's): failed sign-ins counted per account and origin in a sliding window; too many lock sign-in from that origin only.
import type { RiskConfig } from '../config/risk.js';
import type { AccountLocks, HeldLocks, SignInOrigin } from '../session/account-locks.js';
import type { AccountRiskRecords } from './account-record.js';
import type { AddressFailures } from './signals/velocity.js';
import type { FailureOutcome, LockoutState } from './types.js';

export const LOCKOUT_REASON = 'failed_sign_ins';

const other = (origin: SignInOrigin): SignInOrigin => (origin === 'familiar' ? 'unfamiliar' : 'familiar');

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
    private readonly locks: Pick<AccountLocks, 'held' | 'lockSignIn'>,
    private readonly records: AccountRiskRecords,
    private readonly addressFailures: AddressFailures,
    private readonly settings: Pick<RiskConfig, 'lockout' | 'velocity'>,
  ) {}

  async state(accountId: string, origin: SignInOrigin): Promise<LockoutState> {
    return lockoutStateFor(await this.locks.held(accountId), origin);
  }

  /** Counts one failure of the account from this origin and address; the failure past maxFailures locks the origin. */
  async recordFailure(accountId: string, ip: string, origin: SignInOrigin, now: number): Promise<FailureOutcome> {
    const [failures] = await Promise.all([
      this.records.addFailure(accountId, origin, this.settings.lockout.windowSeconds * 1000, now),
      this.addressFailures.add(ip, now),
    ]);
    let lockedNow = false;
    if (failures > this.settings.lockout.maxFailures) {
      lockedNow = (await this.locks.lockSignIn(accountId, origin, LOCKOUT_REASON, this.settings.lockout.lockSeconds * 1000)) !== undefined;
      // The count starts again after the lock: its end (or an unlock) gives a fresh budget.
      if (lockedNow) await this.records.clearFailures(accountId, origin);
    }
    return { failures, lockedNow, state: await this.state(accountId, origin) };
  }
}
