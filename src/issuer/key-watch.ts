// Keeps an instance's issuer on the store's signing keys: refreshes it when a key is added, activates or leaves, and rotates on schedule.
import type { Logger } from 'pino';
import type { AuditInput } from '../audit/auditor.js';
import type { KeyValueStore } from '../store/store.js';
import { nextTransition } from './key-ring.js';
import { KEYS_CHANGED, type SigningKeyStore } from './key-store.js';

/** Re-read the keys at least this often, in case a change message was missed (the store was briefly unreachable). */
const POLL_MS = 60_000;

export interface KeyWatchDeps {
  keyStore: SigningKeyStore;
  store: KeyValueStore;
  logger: Logger;
  now: () => number;
  /** Rotate automatically when the newest key is this old (keys.rotateEverySeconds). */
  rotateEveryMs?: number;
  /** The fingerprint of the keys the running issuer serves; undefined while it serves a jwksFile (nothing to refresh). */
  serving(): string | undefined;
  /** Rebuilds the issuer on the store's current keys (oidc-provider takes its JWKS at construction). */
  refresh(): Promise<void>;
  /** Records a scheduled rotation in the audit trail. */
  audit(event: AuditInput): void;
}

export interface KeyWatch {
  /** Checks now (rotation due, keys changed); resolves when done. */
  check(): Promise<void>;
  stop(): Promise<void>;
}

export async function watchSigningKeys(deps: KeyWatchDeps): Promise<KeyWatch> {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const once = async () => {
    let statuses = await deps.keyStore.statuses();
    const newest = Math.max(...statuses.map((status) => status.activatesAt));
    // No keys yet (the issuer creates the first ones): nothing to rotate.
    const rotationDue = deps.rotateEveryMs !== undefined && statuses.length > 0 ? newest + deps.rotateEveryMs : undefined;
    if (rotationDue !== undefined && rotationDue <= deps.now() && !statuses.some((status) => status.state === 'next')) {
      const result = await deps.keyStore.rotate();
      if (result.rotated) {
        const details = { kids: result.added.map((key) => key.kid).join(' '), activatesAt: new Date(result.added[0]!.activatesAt).toISOString() };
        deps.audit({ event: 'keys.rotated', outcome: 'success', reason: 'schedule', details });
        deps.logger.info(details, 'signing keys: scheduled rotation published the next keys');
      }
      statuses = await deps.keyStore.statuses();
    }
    const serving = deps.serving();
    const served = serving === undefined ? undefined : await deps.keyStore.issuerKeys();
    if (served && served.fingerprint !== serving) {
      await deps.refresh();
      deps.logger.info({ keys: served.statuses.map((status) => ({ kid: status.kid, alg: status.alg, state: status.state })) }, 'signing keys: issuer refreshed');
    }
    return [nextTransition(statuses, deps.now()), rotationDue].filter((at): at is number => at !== undefined && at > deps.now());
  };

  const check = (): Promise<void> => {
    running = running.then(async () => {
      if (stopped) return;
      clearTimeout(timer);
      let due: number[] = [];
      try {
        due = await once();
      } catch (error) {
        deps.logger.error({ err: error }, 'signing keys: refresh failed; serving the current keys and retrying');
      }
      if (stopped) return;
      // A few ms past the transition, so the clock has reached it when the timer fires.
      const delay = Math.min(POLL_MS, ...due.map((at) => at - deps.now() + 5));
      timer = setTimeout(() => void check(), Math.max(0, delay));
      timer.unref();
    });
    return running;
  };

  const unsubscribe = await deps.store.subscribe(KEYS_CHANGED, () => void check());
  await check();
  return {
    check,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await unsubscribe();
    },
  };
}
