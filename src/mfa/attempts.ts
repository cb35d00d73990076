// Second-factor answers per account, counted in the store before they are checked: a 6-digit code cannot be guessed by trying them all.
import type { KeyValueStore } from '../store/store.js';

const keyOf = (accountId: string) => `mfa-failures:${accountId}`;

export class FactorAttempts {
  constructor(
    private readonly store: KeyValueStore,
    /** Answers allowed in one window (a right answer gives them all back); beyond that every answer is refused until the window ends. */
    readonly maxFailures: number,
    readonly windowMs: number,
  ) {}

  /**
   * Counts one answer, atomically across instances, before it is checked: true while the window's budget holds. Counting
   * first means parallel guesses cannot all read "still allowed" and overtake the limit.
   */
  async begin(accountId: string): Promise<boolean> {
    return (await this.store.increment(keyOf(accountId), this.windowMs)) <= this.maxFailures;
  }

  /** A right answer gives the window's count back. */
  async succeeded(accountId: string): Promise<void> {
    await this.store.delete(keyOf(accountId));
  }
}
