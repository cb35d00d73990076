// Wrong second-factor answers per account, counted in the store: a 6-digit code cannot be guessed by trying them all.
import type { KeyValueStore } from '../store/store.js';

const keyOf = (accountId: string) => `mfa-failures:${accountId}`;

export class FactorAttempts {
  constructor(
    private readonly store: KeyValueStore,
    /** Wrong answers allowed in one window; once that many are counted, every answer is refused until the window ends. */
    readonly maxFailures: number,
    readonly windowMs: number,
  ) {}

  /** Wrong answers of the account in the current window (0 when none). */
  async failures(accountId: string): Promise<number> {
    return (await this.store.get<number>(keyOf(accountId))) ?? 0;
  }

  /** Counts one wrong answer (atomically, across instances); answers the count in this window. */
  async fail(accountId: string): Promise<number> {
    return this.store.increment(keyOf(accountId), this.windowMs);
  }

  /** A right answer forgets the wrong ones. */
  async clear(accountId: string): Promise<void> {
    await this.store.delete(keyOf(accountId));
  }
}
