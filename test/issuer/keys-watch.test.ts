// The key watch of one instance: refreshes its issuer when another instance rotates, rotates on schedule once, and leaves a jwksFile deployment alone.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/audit/auditor.js';
import { SigningKeyStore } from '../../src/issuer/key-store.js';
import { watchSigningKeys, type KeyWatch } from '../../src/issuer/key-watch.js';
import { VaultKeyRing } from '../../src/session/vault-crypto.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';

const HOUR = 3600_000;
const timings = { publishBeforeUseMs: 24 * HOUR, retentionMs: 2 * HOUR };

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe.each(STORE_BACKENDS)('key watch (%s)', (_name, open) => {
  let store: KeyValueStore | undefined;
  let watch: KeyWatch | undefined;
  afterEach(async () => {
    await watch?.stop();
    await closeTestStore(store);
  });

  const vault = new VaultKeyRing([randomBytes(32)]);

  async function start(options: { rotateEveryMs?: number; fromFile?: boolean } = {}) {
    store = await open();
    const clock = { now: 10 * 24 * HOUR };
    const keyStore = new SigningKeyStore(store, vault, timings, () => clock.now);
    const state = { fingerprint: (await keyStore.issuerKeys()).fingerprint, refreshes: 0, audit: [] as AuditInput[] };
    watch = await watchSigningKeys({
      keyStore,
      store,
      logger: pino({ level: 'silent' }),
      now: () => clock.now,
      rotateEveryMs: options.rotateEveryMs,
      audit: (event) => void state.audit.push(event),
      serving: () => (options.fromFile ? undefined : state.fingerprint),
      async refresh() {
        state.fingerprint = (await keyStore.issuerKeys()).fingerprint;
        state.refreshes += 1;
      },
    });
    return { clock, keyStore, state };
  }

  it('another instance rotating reaches this one through the store: its issuer is rebuilt once, with the next keys published', async () => {
    const { keyStore, state } = await start();
    expect(state.refreshes).toBe(0);
    await keyStore.rotate();
    await until(() => state.refreshes === 1);
    expect((await keyStore.issuerKeys()).fingerprint).toBe(state.fingerprint);
    await watch!.check();
    expect(state.refreshes).toBe(1);
  });

  it('the next keys activating (time passing, no message) rebuild the issuer at the check', async () => {
    const { clock, keyStore, state } = await start();
    await keyStore.rotate();
    await until(() => state.refreshes === 1);
    clock.now += timings.publishBeforeUseMs;
    await watch!.check();
    expect(state.refreshes).toBe(2);
    expect(state.fingerprint.split(',').map((entry) => entry.split(':')[1])).toEqual(['a', 'a', 'p', 'p']);
  });

  it('rotates on schedule when the newest key is rotateEvery old, and only once while the next keys wait', async () => {
    const { clock, keyStore, state } = await start({ rotateEveryMs: 30 * 24 * HOUR });
    expect((await keyStore.statuses()).filter((s) => s.state === 'next')).toHaveLength(0);
    clock.now += 30 * 24 * HOUR;
    await watch!.check();
    await watch!.check();
    expect((await keyStore.statuses()).filter((s) => s.state === 'next')).toHaveLength(2);
    expect(state.refreshes).toBeGreaterThanOrEqual(1);
    expect(state.audit).toEqual([expect.objectContaining({ event: 'keys.rotated', outcome: 'success', reason: 'schedule' })]);
  });

  it('a deployment serving a jwksFile is never rebuilt for the store keys', async () => {
    const { keyStore, state } = await start({ fromFile: true });
    await keyStore.rotate();
    await watch!.check();
    expect(state.refreshes).toBe(0);
  });
});
