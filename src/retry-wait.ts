// The pause between two delivery attempts (back-channel logout, SSF push): true after the delay, false at once when shutdown aborts it.
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
