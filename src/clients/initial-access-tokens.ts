// Initial access tokens (RFC 7591 §3): issued by `vestibule clients iat create`, single or multi use, expiring, listed and revoked; only their hash is stored.
import { createHash, randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../store/store.js';

const PREFIX = 'clients:iat:';
const INDEX = 'clients:iat-index';
const TOKEN_PREFIX = 'vit_';
/** An expired token is kept this long, so that `iat list` and the audit can say "expired" rather than "unknown". */
const KEEP_EXPIRED_MS = 7 * 86400_000;

export interface InitialAccessTokenRecord {
  id: string;
  /** SHA-256 (hex) of the token. */
  hash: string;
  /** Registrations it allows; 0 means any number until it expires. */
  maxUses: number;
  createdAt: number;
  expiresAt: number;
  note?: string;
}

export interface InitialAccessTokenStatus extends Omit<InitialAccessTokenRecord, 'hash'> {
  used: number;
}

/** Why a presented token does not authorize a registration (said to the caller as invalid_token, to the audit as the reason). */
export type TokenRefusal = 'missing' | 'unknown' | 'expired' | 'spent';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
/** The record id is part of the token's hash: a lookup needs no index and a listing shows no secret. */
const idOf = (hash: string) => hash.slice(0, 16);

export class InitialAccessTokens {
  constructor(
    private readonly store: KeyValueStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Issues a token; the value is returned once and never stored. */
  async create(options: { ttlSeconds: number; maxUses: number; note?: string }): Promise<{ token: string; record: InitialAccessTokenRecord }> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const hash = sha256(token);
    const createdAt = this.now();
    const record: InitialAccessTokenRecord = { id: idOf(hash), hash, maxUses: options.maxUses, createdAt, expiresAt: createdAt + options.ttlSeconds * 1000, ...(options.note ? { note: options.note } : {}) };
    const ttlMs = options.ttlSeconds * 1000 + KEEP_EXPIRED_MS;
    await this.store.batch([
      { op: 'set', key: PREFIX + record.id, value: record, ttlMs },
      { op: 'mapSet', key: INDEX, field: record.id, value: record.expiresAt, ttlMs },
    ]);
    return { token, record };
  }

  private async find(token: string): Promise<InitialAccessTokenRecord | undefined> {
    const hash = sha256(token);
    const record = await this.store.get<InitialAccessTokenRecord>(PREFIX + idOf(hash));
    return record && record.hash === hash ? record : undefined;
  }

  private usesKey(id: string) {
    return `${PREFIX}${id}:used`;
  }

  /** Whether the token would authorize a registration now (read only: nothing is spent). */
  async check(token: string | undefined): Promise<{ ok: true; record: InitialAccessTokenRecord } | { ok: false; reason: TokenRefusal }> {
    if (!token) return { ok: false, reason: 'missing' };
    const record = await this.find(token);
    if (!record) return { ok: false, reason: 'unknown' };
    if (record.expiresAt <= this.now()) return { ok: false, reason: 'expired' };
    if (record.maxUses > 0 && ((await this.store.get<number>(this.usesKey(record.id))) ?? 0) >= record.maxUses) return { ok: false, reason: 'spent' };
    return { ok: true, record };
  }

  /** Spends one use, atomically: of concurrent registrations with a single-use token exactly one gets it. */
  async spend(record: InitialAccessTokenRecord): Promise<boolean> {
    const ttlMs = Math.max(1, record.expiresAt - this.now()) + KEEP_EXPIRED_MS;
    const used = await this.store.increment(this.usesKey(record.id), ttlMs);
    return record.maxUses === 0 || used <= record.maxUses;
  }

  async list(): Promise<InitialAccessTokenStatus[]> {
    const ids = Object.keys(await this.store.mapGetAll(INDEX));
    if (ids.length === 0) return [];
    const records = await this.store.getMany<InitialAccessTokenRecord>(ids.map((id) => PREFIX + id));
    const live = records.filter((record): record is InitialAccessTokenRecord => record !== undefined);
    const used = await this.store.getMany<number>(live.map((record) => this.usesKey(record.id)));
    return live.map(({ hash: _hash, ...record }, index) => ({ ...record, used: used[index] ?? 0 })).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Revokes by id (as listed); false when there is no such token. */
  async revoke(id: string): Promise<boolean> {
    const exists = (await this.store.get(PREFIX + id)) !== undefined;
    await this.store.batch([
      { op: 'delete', key: PREFIX + id },
      { op: 'delete', key: this.usesKey(id) },
      { op: 'mapDelete', key: INDEX, field: id },
    ]);
    return exists;
  }
}
