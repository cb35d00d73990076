// A single-use claim whose answer may be lost: when the store fails mid-claim, wait for it and read back who won.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreUnavailableError, type ClaimResult, type KeyValueStore } from './store.js';

/** How long a claim whose answer was lost waits for the store by default, ms. */
export const DEFAULT_LOST_CLAIM_WAIT_MS = 15_000;

export interface ClaimOnceOptions {
  /** The field written beside the claimed one with this claim's own id. */
  markField: string;
  /** How long to keep asking a failing store, ms; then the store's error is thrown. */
  waitMs: number;
  /** Pause between two questions to a failing store, ms. */
  pollMs?: number;
}

/**
 * Claims `field` of the object at `key` (KeyValueStore.claim), marked with a fresh id. A store that fails may still have
 * applied the claim (Redis can run a command and die before it answers), so a failure is never taken as "not claimed":
 * the object is read back once the store answers again: this claim's id there is 'won', another's is 'taken', no
 * claim at all means it never landed and it is made again. Throws the store's error when the store stays silent for
 * `waitMs`: then nobody knows, and the caller must not hand out what the claim guards.
 */
export async function claimOnce(store: KeyValueStore, key: string, field: string, value: unknown, options: ClaimOnceOptions): Promise<ClaimResult> {
  const mark = { [options.markField]: randomBytes(12).toString('base64url') };
  try {
    return await store.claim(key, field, value, mark);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    return readBack(store, key, field, value, mark, options, error);
  }
}

async function readBack(
  store: KeyValueStore,
  key: string,
  field: string,
  value: unknown,
  mark: Record<string, string>,
  options: ClaimOnceOptions,
  firstError: StoreUnavailableError,
): Promise<ClaimResult> {
  const deadline = Date.now() + options.waitMs;
  let lastError = firstError;
  while (Date.now() < deadline) {
    await sleep(options.pollMs ?? 100);
    try {
      const stored = await store.get<Record<string, unknown>>(key);
      if (stored === undefined) return 'absent';
      if (stored[options.markField] === mark[options.markField]) return 'won';
      if (Object.hasOwn(stored, field)) return 'taken';
      return await store.claim(key, field, value, mark);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}
