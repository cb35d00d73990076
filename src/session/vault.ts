// Upstream token vault: encrypted upstream tokens per broker session, refreshed before expiry with one refresh at a time.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ConnectorError, type Identity, type RefreshableConnector, type UpstreamTokens } from '../connectors/connector.js';
import type { AuditInput } from '../audit/auditor.js';
import type { KeyValueStore } from '../store/store.js';
import { VaultKeyRing } from './vault-crypto.js';

export interface VaultRecord {
  connectorId: string;
  tokens: UpstreamTokens;
  /** When the tokens were stored or last refreshed, ms since epoch. */
  updatedAt: number;
}

/** getFresh's answer; `identity` is set when this call refreshed (claims from a new ID token / userinfo, if any). */
export interface FreshTokens extends VaultRecord {
  refreshed: boolean;
  identity?: Identity;
}

export interface TokenVault {
  save(sessionId: string, connectorId: string, tokens: UpstreamTokens): Promise<void>;
  get(sessionId: string): Promise<VaultRecord | undefined>;
  /**
   * The session's tokens, refreshed through `connector` first when less than refreshSkewMs of access-token life remains.
   * One refresh per session at a time across processes (store lock) and within this one (shared promise).
   * Throws the connector's ConnectorError (e.g. upstream_revoked) when the refresh fails, and
   * `upstream_tokens_unreadable` when the entry exists but none of the keys opens it.
   * `maxAgeMs` (re-verification): also refresh when the upstream last answered longer ago than this.
   */
  getFresh(sessionId: string, connector: RefreshableConnector, identity?: Identity, options?: { maxAgeMs?: number }): Promise<FreshTokens | undefined>;
  delete(sessionId: string): Promise<void>;
}

export interface TokenVaultOptions {
  store: KeyValueStore;
  /** 32-byte AES keys (Buffer, base64 or base64url): the first encrypts, all decrypt. */
  keys: readonly (Buffer | Uint8Array | string)[];
  now?: () => number;
  /** Refresh when less than this much access-token life remains. Default 5 minutes. */
  refreshSkewMs?: number;
  /** How long a refresh lock lives if its holder dies. Default 30 s. */
  lockTtlMs?: number;
  /** Lifetime of a vault entry (match the broker session). Default 24 h. */
  ttlMs?: number;
  /** How often a waiter re-reads while another process refreshes. Default 50 ms. */
  pollMs?: number;
  logger?: Logger;
  auditor?: { record(input: AuditInput): void };
}

const entryKey = (sessionId: string) => `vault:${sessionId}`;
const lockKey = (sessionId: string) => `vault-lock:${sessionId}`;
const failureKey = (sessionId: string) => `vault-fail:${sessionId}`;

interface StoredFailure {
  code: string;
  detail: string;
  status: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createTokenVault(options: TokenVaultOptions): TokenVault {
  const { store, logger, auditor } = options;
  const ring = new VaultKeyRing(options.keys);
  const now = options.now ?? Date.now;
  const refreshSkewMs = options.refreshSkewMs ?? 5 * 60_000;
  const lockTtlMs = options.lockTtlMs ?? 30_000;
  const ttlMs = options.ttlMs ?? 24 * 3600_000;
  const pollMs = options.pollMs ?? 50;
  const inflight = new Map<string, Promise<FreshTokens | undefined>>();

  async function write(sessionId: string, record: VaultRecord, keepTtl: boolean): Promise<void> {
    let ttl = ttlMs;
    if (keepTtl) {
      const remaining = await store.ttl(entryKey(sessionId));
      if (remaining !== undefined && Number.isFinite(remaining)) ttl = Math.max(1, remaining);
    }
    await store.set(entryKey(sessionId), ring.seal(sessionId, JSON.stringify(record)), ttl);
  }

  /** The session's entry; 'unreadable' when it exists but no key opens it (tampered, moved, or its key was retired). */
  async function open(sessionId: string): Promise<VaultRecord | 'unreadable' | undefined> {
    const box = await store.get(entryKey(sessionId));
    if (box === undefined) return undefined;
    const plaintext = ring.open(sessionId, box);
    if (plaintext === undefined) {
      logger?.error({ sessionId }, 'vault entry cannot be decrypted (tampered, moved, or its key was retired)');
      return 'unreadable';
    }
    return JSON.parse(plaintext) as VaultRecord;
  }

  async function get(sessionId: string): Promise<VaultRecord | undefined> {
    const record = await open(sessionId);
    return record === 'unreadable' ? undefined : record;
  }

  /** Near expiry, or (re-verification) not confirmed by the upstream for `maxAgeMs`. */
  const needsRefresh = (record: VaultRecord, maxAgeMs?: number) =>
    (record.tokens.expiresAt !== undefined && record.tokens.expiresAt - now() < refreshSkewMs) ||
    (maxAgeMs !== undefined && Boolean(record.tokens.refreshToken) && now() - record.updatedAt >= maxAgeMs);

  /** The refusal another process just stored, as the error to rethrow. */
  async function recentFailure(sessionId: string): Promise<ConnectorError | undefined> {
    const failure = await store.get<StoredFailure>(failureKey(sessionId));
    return failure ? new ConnectorError(failure.code, failure.detail, { status: failure.status }) : undefined;
  }

  /**
   * Holding the lock: re-read, refresh if still needed, store the result (keeping the old refresh token if none came back).
   * A caller that waited for another holder first honours that holder's refusal instead of asking the upstream again.
   */
  async function refreshLocked(sessionId: string, connector: RefreshableConnector, identity: Identity | undefined, waited: boolean, maxAgeMs?: number): Promise<FreshTokens | undefined> {
    if (waited) {
      const failure = await recentFailure(sessionId);
      if (failure) throw failure;
    }
    const current = await get(sessionId);
    if (!current) return undefined;
    if (!needsRefresh(current, maxAgeMs)) return { ...current, refreshed: false };
    if (current.connectorId !== connector.id) {
      throw new ConnectorError('vault_connector_mismatch', `vault entry belongs to ${current.connectorId}, not ${connector.id}`, { status: 500 });
    }
    if (!current.tokens.refreshToken) {
      if ((current.tokens.expiresAt ?? Infinity) > now()) return { ...current, refreshed: false };
      throw new ConnectorError('refresh_unavailable', 'upstream access token expired and there is no refresh token', { status: 401 });
    }
    const base: Identity = identity ?? { connectorId: current.connectorId, subject: '', groups: [], amr: [], rawClaims: {} };
    let refreshed: Identity;
    try {
      refreshed = await connector.refresh({ ...base, upstreamTokens: current.tokens });
    } catch (err) {
      const error =
        err instanceof ConnectorError ? err : new ConnectorError('upstream_refresh_failed', String((err as Error)?.message ?? err), { status: 502, cause: err });
      const failure: StoredFailure = { code: error.code, detail: error.detail, status: error.status };
      await store.set(failureKey(sessionId), failure, Math.max(1000, Math.min(lockTtlMs, 10_000)));
      auditor?.record({ event: 'upstream.token.refresh_failed', outcome: 'failure', connectorId: current.connectorId, reason: error.code });
      throw error;
    }
    const tokens: UpstreamTokens = { ...(refreshed.upstreamTokens ?? current.tokens) };
    if (!tokens.refreshToken && current.tokens.refreshToken) tokens.refreshToken = current.tokens.refreshToken;
    const record: VaultRecord = { connectorId: current.connectorId, tokens, updatedAt: now() };
    await write(sessionId, record, true);
    await store.delete(failureKey(sessionId));
    auditor?.record({ event: 'upstream.token.refreshed', outcome: 'success', connectorId: current.connectorId });
    const { upstreamTokens: _t, ...withoutTokens } = refreshed;
    return { ...record, refreshed: true, identity: { ...withoutTokens, upstreamTokens: tokens } };
  }

  /** Takes the store lock or waits for its holder, then answers from what the holder stored. */
  async function refreshSingleFlight(sessionId: string, connector: RefreshableConnector, identity?: Identity, maxAgeMs?: number): Promise<FreshTokens | undefined> {
    const owner = randomBytes(12).toString('base64url');
    for (let waited = false; ; waited = true) {
      if (await store.setIfAbsent(lockKey(sessionId), owner, lockTtlMs)) {
        try {
          return await refreshLocked(sessionId, connector, identity, waited, maxAgeMs);
        } finally {
          await store.deleteIfEquals(lockKey(sessionId), owner);
        }
      }
      await sleep(pollMs);
      const failure = await recentFailure(sessionId);
      if (failure) throw failure;
      const current = await get(sessionId);
      if (!current) return undefined;
      if (!needsRefresh(current, maxAgeMs)) return { ...current, refreshed: false };
    }
  }

  return {
    async save(sessionId, connectorId, tokens) {
      await write(sessionId, { connectorId, tokens, updatedAt: now() }, false);
    },
    get,
    async getFresh(sessionId, connector, identity, options) {
      const record = await open(sessionId);
      if (!record) return undefined;
      // Fail closed: a session whose upstream tokens nobody can read can never be confirmed upstream again.
      if (record === 'unreadable') {
        auditor?.record({ event: 'upstream.token.refresh_failed', outcome: 'failure', level: 'error', connectorId: connector.id, reason: 'upstream_tokens_unreadable' });
        throw new ConnectorError('upstream_tokens_unreadable', 'the session\'s upstream tokens cannot be decrypted with any of vaultKeys', { status: 401 });
      }
      if (!needsRefresh(record, options?.maxAgeMs)) return { ...record, refreshed: false };
      const pending = inflight.get(sessionId);
      if (pending) return pending;
      const promise = refreshSingleFlight(sessionId, connector, identity, options?.maxAgeMs).finally(() => inflight.delete(sessionId));
      inflight.set(sessionId, promise);
      return promise;
    },
    async delete(sessionId) {
      await store.delete(entryKey(sessionId), lockKey(sessionId), failureKey(sessionId));
    },
  };
}
