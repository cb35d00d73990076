// Signing keys in the store (memory and Redis): created once for concurrent instances, sealed at rest, rotated with publication before use, pruned.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SigningKeyStore } from '../../src/issuer/key-store.js';
import { VaultKeyRing } from '../../src/session/vault-crypto.js';
import { RedisStore } from '../../src/store/redis.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';

const HOUR = 3600_000;
const timings = { publishBeforeUseMs: 24 * HOUR, retentionMs: 2 * HOUR };

describe.each(STORE_BACKENDS)('signing keys in the store (%s)', (_name, open) => {
  let store: KeyValueStore | undefined;
  afterEach(async () => closeTestStore(store));

  const vaultKey = randomBytes(32);
  const keyStore = (s: KeyValueStore, clock: { now: number }, key = vaultKey) => new SigningKeyStore(s, new VaultKeyRing([key]), timings, () => clock.now);

  it('two instances starting at once create one key set and serve the same keys, active ES256 and RS256', async () => {
    store = await open();
    const clock = { now: 1_000_000 };
    const [a, b] = await Promise.all([keyStore(store, clock).issuerKeys(), keyStore(store, clock).issuerKeys()]);
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.statuses.map((s) => [s.alg, s.state])).toEqual([
      ['ES256', 'active'],
      ['RS256', 'active'],
    ]);
    expect(a.keys.every((k) => typeof k.d === 'string' && k.use === 'sig')).toBe(true);
  });

  it('keeps private keys sealed at rest: the stored record has no private member and opens only with the vault key', async () => {
    store = await open();
    const clock = { now: 1_000_000 };
    const served = await keyStore(store, clock).issuerKeys();
    const stored = JSON.stringify(await store.mapGetAll('issuer:signing-keys'));
    for (const key of served.keys) expect(stored).not.toContain(key.d as string);
    expect(stored).not.toMatch(/"d":/);
    if (store instanceof RedisStore) {
      const raw = JSON.stringify(await store.client.hgetall(`${store.prefix}issuer:signing-keys`));
      for (const key of served.keys) expect(raw).not.toContain(key.d as string);
    }
    // Another vault key cannot open them: that instance makes its own active keys instead of serving nothing.
    const other = await keyStore(store, { now: 1_000_001 }, randomBytes(32)).issuerKeys();
    expect(other.keys.map((k) => k.kid)).not.toEqual(expect.arrayContaining(served.keys.map((k) => k.kid as string)));
    expect(other.statuses.filter((s) => s.state === 'active')).toHaveLength(2);
  });

  it('rotate publishes next keys that sign only after publishBeforeUse; the old keys stay published for the retention, then go', async () => {
    store = await open();
    const clock = { now: 1_000_000 };
    const keys = keyStore(store, clock);
    const before = await keys.issuerKeys();
    const oldKids = before.keys.map((k) => k.kid);

    const rotated = await keys.rotate();
    expect(rotated.rotated).toBe(true);
    const published = await keys.issuerKeys();
    expect(published.keys.slice(0, 2).map((k) => k.kid)).toEqual(oldKids);
    expect(published.statuses.map((s) => s.state)).toEqual(['active', 'active', 'next', 'next']);
    expect(published.fingerprint).not.toBe(before.fingerprint);

    // A second rotation while the next keys wait is refused (unless forced).
    const again = await keys.rotate();
    expect(again).toMatchObject({ rotated: false, reason: 'next_pending' });

    clock.now += timings.publishBeforeUseMs;
    const active = await keys.issuerKeys();
    expect(active.statuses.map((s) => s.state)).toEqual(['active', 'active', 'retired', 'retired']);
    expect(active.keys.slice(2).map((k) => k.kid)).toEqual(oldKids);
    expect(oldKids).not.toContain(active.keys[0]?.kid);

    clock.now += timings.retentionMs;
    const after = await keys.issuerKeys();
    expect(after.keys.map((k) => k.kid)).toEqual(active.keys.slice(0, 2).map((k) => k.kid));
    // The next rotation prunes the records of keys no longer published.
    await keys.rotate();
    expect(Object.keys(await store.mapGetAll('issuer:signing-keys'))).toHaveLength(4);
    expect(Object.keys(await store.mapGetAll('issuer:signing-keys'))).not.toEqual(expect.arrayContaining(oldKids as string[]));
  });

  it('a tampered or moved sealed key is never served: the box is bound to its kid', async () => {
    store = await open();
    const clock = { now: 1_000_000 };
    const served = await keyStore(store, clock).issuerKeys();
    const records = await store.mapGetAll<{ kid: string; sealed: { ct: string } }>('issuer:signing-keys');
    const [first, second] = served.keys.map((key) => records[key.kid as string]!);
    // The ES256 box flipped in one byte; the RS256 record carrying the ES256 key's (valid) box.
    const ct = Buffer.from(first!.sealed.ct, 'base64url');
    ct[0] = (ct[0] as number) ^ 1;
    await store.batch([
      { op: 'mapSet', key: 'issuer:signing-keys', field: first!.kid, value: { ...first, sealed: { ...first!.sealed, ct: ct.toString('base64url') } } },
      { op: 'mapSet', key: 'issuer:signing-keys', field: second!.kid, value: { ...second, sealed: records[first!.kid]!.sealed } },
    ]);
    clock.now += 1;
    const after = await keyStore(store, clock).issuerKeys();
    expect(after.keys.map((k) => k.kid)).not.toContain(first!.kid);
    expect(after.keys.map((k) => k.kid)).not.toContain(second!.kid);
    expect(after.statuses.map((s) => [s.alg, s.state])).toEqual([
      ['ES256', 'active'],
      ['RS256', 'active'],
    ]);
  });

  it('two rotations at the same moment add one next key set', async () => {
    store = await open();
    const clock = { now: 1_000_000 };
    await keyStore(store, clock).issuerKeys();
    const results = await Promise.all([keyStore(store, clock).rotate(), keyStore(store, clock).rotate()]);
    expect(results.filter((r) => r.rotated)).toHaveLength(1);
    expect((await keyStore(store, clock).statuses()).filter((s) => s.state === 'next')).toHaveLength(2);
  });

  it('imports the keys an older broker generated in clear, once, and removes the clear copy', async () => {
    store = await open();
    const { generateSigningJwks } = await import('../../src/issuer/keys.js');
    const legacy = (await generateSigningJwks()).keys;
    await store.set('issuer:generated-jwks', legacy, HOUR);
    const served = await keyStore(store, { now: 1_000_000 }).issuerKeys();
    expect(served.keys.map((k) => k.kid).sort()).toEqual(legacy.map((k) => k.kid).sort());
    expect(await store.get('issuer:generated-jwks')).toBeUndefined();
  });
});
