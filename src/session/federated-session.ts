// The FederatedSession record: who signed in, through which upstream, and when it was last verified.
import { createHash, randomBytes } from 'node:crypto';
import type { Identity } from '../connectors/connector.js';
import type { KeyValueStore, WriteOp } from '../store/store.js';

export interface FederatedSession {
  id: string;
  accountId: string;
  connectorId: string;
  /** The upstream identity without upstream tokens (those live in the vault). */
  identity: Omit<Identity, 'upstreamTokens'>;
  createdAt: number;
  lastVerifiedAt: number;
}

/** The claims findAccount serves for an account id. */
export interface AccountRecord {
  accountId: string;
  connectorId: string;
  claims: Record<string, unknown>;
  updatedAt: number;
}

// Every key of one account carries the account id as a Redis Cluster hash tag, so the atomic batches stay in one slot.
const sessionKey = (accountId: string, id: string) => `fsession:{${accountId}}:${id}`;
const accountKey = (accountId: string) => `account:{${accountId}}`;
const accountSessionsKey = (accountId: string) => `account-sessions:{${accountId}}`;
/** Sessions by upstream subject (SAML NameID or OIDC sub), for upstream-initiated logout. */
const upstreamKey = (connectorId: string, upstreamSubject: string) =>
  `upstream-sessions:{${createHash('sha256').update(`${connectorId}\u0000${upstreamSubject}`).digest('base64url')}}`;

/** The upstream's name for the user: the SAML NameID when there is one, else the subject. */
export function upstreamSubjectOf(session: Pick<FederatedSession, 'identity'>): string {
  const nameId = session.identity.connectorData?.nameId;
  return typeof nameId === 'string' ? nameId : session.identity.subject;
}

export function newSessionId(): string {
  return randomBytes(18).toString('base64url');
}

export class SessionRepository {
  constructor(
    private readonly store: KeyValueStore,
    private readonly ttlMs: number,
  ) {}

  /**
   * Saves the session, the account's claims and the account -> sessions index in one atomic write, then the
   * upstream-subject index (another cluster slot; an index entry without its session is skipped on read).
   */
  async save(session: FederatedSession, account: AccountRecord): Promise<void> {
    const expiresAt = session.createdAt + this.ttlMs;
    const upstream = upstreamKey(session.connectorId, upstreamSubjectOf(session));
    // Each save also drops the indexes' entries of sessions that have expired since (account.updatedAt is "now").
    await this.store.batch([
      { op: 'set', key: sessionKey(session.accountId, session.id), value: session, ttlMs: this.ttlMs },
      { op: 'set', key: accountKey(account.accountId), value: account, ttlMs: this.ttlMs },
      { op: 'mapPrune', key: accountSessionsKey(account.accountId), upTo: account.updatedAt },
      { op: 'mapSet', key: accountSessionsKey(account.accountId), field: session.id, value: expiresAt, ttlMs: this.ttlMs },
    ]);
    await this.store.batch([
      { op: 'mapPrune', key: upstream, upTo: account.updatedAt },
      { op: 'mapSet', key: upstream, field: `${session.accountId}.${session.id}`, value: expiresAt, ttlMs: this.ttlMs },
    ]);
  }

  get(accountId: string, id: string): Promise<FederatedSession | undefined> {
    return this.store.get<FederatedSession>(sessionKey(accountId, id));
  }

  account(accountId: string): Promise<AccountRecord | undefined> {
    return this.store.get<AccountRecord>(accountKey(accountId));
  }

  /** Ids of the account's sessions that have not expired. */
  async sessionsOf(accountId: string, now = Date.now()): Promise<string[]> {
    const sessions = await this.store.mapGetAll<number>(accountSessionsKey(accountId));
    return Object.entries(sessions)
      .filter(([, expiresAt]) => expiresAt > now)
      .map(([id]) => id);
  }

  /** The live sessions an upstream subject has at a connector. */
  async byUpstreamSubject(connectorId: string, upstreamSubject: string): Promise<FederatedSession[]> {
    const pointers = Object.keys(await this.store.mapGetAll(upstreamKey(connectorId, upstreamSubject)));
    const sessions = await Promise.all(
      pointers.map((pointer) => {
        const dot = pointer.indexOf('.');
        return this.get(pointer.slice(0, dot), pointer.slice(dot + 1));
      }),
    );
    return sessions.filter((session): session is FederatedSession => session !== undefined && session.connectorId === connectorId);
  }

  /** Deletes the session and its index entries; `alsoOps` (keys tagged with the same account) join the atomic batch. */
  async end(session: FederatedSession, alsoOps: readonly WriteOp[] = []): Promise<void> {
    await this.store.batch([
      { op: 'delete', key: sessionKey(session.accountId, session.id) },
      { op: 'mapDelete', key: accountSessionsKey(session.accountId), field: session.id },
      ...alsoOps,
    ]);
    await this.store.batch([{ op: 'mapDelete', key: upstreamKey(session.connectorId, upstreamSubjectOf(session)), field: `${session.accountId}.${session.id}` }]);
  }
}
