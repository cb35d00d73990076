// Signing keys kept in the store for every instance: private JWKs sealed with the vault keys (AES-256-GCM), generated, rotated and pruned.
import { randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import type { SealedBox, VaultKeyRing } from '../session/vault-crypto.js';
import type { KeyValueStore } from '../store/store.js';
import { expiredKids, keyStatuses, ringFingerprint, type KeyRecord, type KeyStatus } from './key-ring.js';
import { generateKey, SIGNING_ALGS } from './key-generate.js';

const RING = 'issuer:signing-keys';
const LOCK = 'issuer:signing-keys:lock';
/** Published after every change, so each instance refreshes its issuer at once. */
export const KEYS_CHANGED = 'issuer:signing-keys:changed';
/** Where the broker kept its generated keys (in clear) before they were sealed; imported once. */
const LEGACY = 'issuer:generated-jwks';
const LOCK_MS = 30_000;

interface StoredKey extends KeyRecord {
  sealed: SealedBox;
}

export interface KeyTimings {
  /** How long a new key is published before it signs (longer than relying parties cache the JWKS). */
  publishBeforeUseMs: number;
  /** How long a superseded key stays published: the longest token lifetime plus clock skew. */
  retentionMs: number;
}

/** What the issuer serves: the published keys (private, active first) and their fingerprint. */
export interface IssuerKeys {
  keys: JWK[];
  fingerprint: string;
  statuses: KeyStatus[];
}

export type RotateResult = { rotated: true; added: KeyStatus[] } | { rotated: false; reason: 'next_pending' | 'busy'; pending: KeyStatus[] };

/** Algorithms without an active key the vault can open (none at first start, or after the vault keys changed). */
const missingAlgs = (served: IssuerKeys) => SIGNING_ALGS.filter((alg) => !served.statuses.some((status) => status.alg === alg && status.state === 'active'));
const sealId = (kid: string) => `signing-key:${kid}`;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SigningKeyStore {
  constructor(
    private readonly store: KeyValueStore,
    private readonly vault: VaultKeyRing,
    private readonly timings: KeyTimings,
    private readonly now: () => number = Date.now,
  ) {}

  async statuses(): Promise<KeyStatus[]> {
    return keyStatuses(await this.records(), this.now(), this.timings.retentionMs);
  }

  /** The keys to serve; generates the first ones (once, across instances) when the store has none that opens. */
  async issuerKeys(): Promise<IssuerKeys> {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const served = await this.openPublished();
      if (missingAlgs(served).length === 0) return served;
      if (await this.locked(() => this.createFirstKeys())) continue;
      await pause(100);
    }
    throw new Error('signing keys: another instance holds the key lock and no active key appeared');
  }

  /** Adds a next key per alg, published now and signing after publishBeforeUse; refused while a next key is pending. */
  async rotate(options: { force?: boolean } = {}): Promise<RotateResult> {
    let result: RotateResult = { rotated: false, reason: 'busy', pending: [] };
    await this.locked(async () => {
      const now = this.now();
      const pending = (await this.statuses()).filter((status) => status.state === 'next');
      if (pending.length > 0 && !options.force) {
        result = { rotated: false, reason: 'next_pending', pending };
        return;
      }
      const activatesAt = now + this.timings.publishBeforeUseMs;
      const added = await Promise.all(SIGNING_ALGS.map((alg) => this.newRecord(alg, now, activatesAt)));
      await this.save(added, now);
      result = { rotated: true, added: keyStatuses(added, now, this.timings.retentionMs) };
    });
    return result;
  }

  /** Runs `work` under the store-wide key lock; false (without running it) when another instance holds it. */
  private async locked(work: () => Promise<void>): Promise<boolean> {
    const token = randomUUID();
    if (!(await this.store.setIfAbsent(LOCK, token, LOCK_MS))) return false;
    try {
      await work();
    } finally {
      await this.store.deleteIfEquals(LOCK, token);
    }
    return true;
  }

  private async createFirstKeys(): Promise<void> {
    const served = await this.openPublished();
    const missing = missingAlgs(served);
    if (missing.length === 0) return;
    const now = this.now();
    const legacy = (await this.store.get<JWK[]>(LEGACY)) ?? [];
    const fresh = served.statuses.length === 0 && legacy.length > 0 ? legacy.map((jwk) => this.recordOf(jwk, now, now)) : await Promise.all(missing.map((alg) => this.newRecord(alg, now, now)));
    await this.save(fresh, now);
    if (legacy.length > 0) await this.store.delete(LEGACY);
  }

  private async newRecord(alg: (typeof SIGNING_ALGS)[number], createdAt: number, activatesAt: number): Promise<StoredKey> {
    return this.recordOf(await generateKey(alg), createdAt, activatesAt);
  }

  private recordOf(jwk: JWK, createdAt: number, activatesAt: number): StoredKey {
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
    const kid = jwk.kid as string;
    return { kid, alg: jwk.alg as string, publicJwk, createdAt, activatesAt, sealed: this.vault.seal(sealId(kid), JSON.stringify(jwk)) };
  }

  /** Writes the new keys and deletes the ones no longer published, in one step, then tells every instance. */
  private async save(added: StoredKey[], now: number): Promise<void> {
    const all = [...(await this.records()), ...added];
    const gone = expiredKids(all, now, this.timings.retentionMs);
    await this.store.batch([
      ...added.map((record) => ({ op: 'mapSet' as const, key: RING, field: record.kid, value: record })),
      ...gone.map((kid) => ({ op: 'mapDelete' as const, key: RING, field: kid })),
    ]);
    await this.store.publish(KEYS_CHANGED, ringFingerprint(keyStatuses(all, now, this.timings.retentionMs)));
  }

  private async records(): Promise<StoredKey[]> {
    return Object.values(await this.store.mapGetAll<StoredKey>(RING));
  }

  /** Published keys opened with the vault keys, in signing order; a key the vault cannot open is left out (and not served). */
  private async openPublished(): Promise<IssuerKeys> {
    const records = await this.records();
    const statuses = keyStatuses(records, this.now(), this.timings.retentionMs);
    const sealed = new Map(records.map((record) => [record.kid, record.sealed]));
    const keys: JWK[] = [];
    for (const status of statuses) {
      const opened = this.vault.open(sealId(status.kid), sealed.get(status.kid));
      if (opened) keys.push({ ...(JSON.parse(opened) as JWK), kid: status.kid, alg: status.alg, use: 'sig' });
    }
    const served = statuses.filter((status) => keys.some((key) => key.kid === status.kid));
    return { keys, statuses: served, fingerprint: ringFingerprint(served) };
  }
}
