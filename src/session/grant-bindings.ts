// Which federated session issued each oidc-provider grant (and so every code and token of it), and the reverse list.
import type { KeyValueStore, WriteOp } from '../store/store.js';

// Both keys carry the account id as their Redis Cluster hash tag, like the session keys, so they share a slot with them.
const grantKey = (accountId: string, grantId: string) => `grant-session:{${accountId}}:${grantId}`;
const sessionGrantsKey = (accountId: string, sessionId: string) => `session-grants:{${accountId}}:${sessionId}`;

/** How long a binding is kept: as long as a session or a grant's refresh tokens, whichever is longer. */
export const bindingTtlMs = (tokens: { sessionTtl: number; refreshTokenTtl: number }) => Math.max(tokens.sessionTtl, tokens.refreshTokenTtl) * 1000;

export class GrantBindings {
  constructor(
    private readonly store: KeyValueStore,
    /** How long a binding is kept: as long as the longest-lived token of a grant. */
    private readonly ttlMs: number,
  ) {}

  /** Records that `grantId` belongs to the session, in one atomic write with the session's list of grants. */
  bind(accountId: string, sessionId: string, grantId: string): Promise<void> {
    return this.store.batch([
      { op: 'set', key: grantKey(accountId, grantId), value: sessionId, ttlMs: this.ttlMs },
      { op: 'mapSet', key: sessionGrantsKey(accountId, sessionId), field: grantId, value: 0, ttlMs: this.ttlMs },
    ]);
  }

  /** The id of the session that issued the grant; undefined for a grant no session owns (fail closed). */
  sessionOf(accountId: string, grantId: string): Promise<string | undefined> {
    return this.store.get<string>(grantKey(accountId, grantId));
  }

  grantsOf(accountId: string, sessionId: string): Promise<string[]> {
    return this.store.mapGetAll(sessionGrantsKey(accountId, sessionId)).then(Object.keys);
  }

  /** The writes that forget a session's bindings (joined to the batch that ends the session). */
  forgetOps(accountId: string, sessionId: string, grantIds: readonly string[]): WriteOp[] {
    return [{ op: 'delete', key: sessionGrantsKey(accountId, sessionId) }, ...grantIds.map((grantId): WriteOp => ({ op: 'delete', key: grantKey(accountId, grantId) }))];
  }
}
