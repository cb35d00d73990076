// The FederatedSession record: who signed in, through which upstream, and when it was last verified.
import { randomBytes } from 'node:crypto';
import type { Identity } from '../connectors/connector.js';
import type { KeyValueStore } from '../store/store.js';

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

export function newSessionId(): string {
  return randomBytes(18).toString('base64url');
}

export class SessionRepository {
  constructor(
    private readonly store: KeyValueStore,
    private readonly ttlMs: number,
  ) {}

  /** Saves the session, the account's claims and the account -> sessions index in one atomic write. */
  async save(session: FederatedSession, account: AccountRecord): Promise<void> {
    await this.store.batch([
      { op: 'set', key: sessionKey(session.accountId, session.id), value: session, ttlMs: this.ttlMs },
      { op: 'set', key: accountKey(account.accountId), value: account, ttlMs: this.ttlMs },
      { op: 'mapSet', key: accountSessionsKey(account.accountId), field: session.id, value: session.createdAt + this.ttlMs, ttlMs: this.ttlMs },
    ]);
  }

  get(accountId: string, id: string): Promise<FederatedSession | undefined> {
    return this.store.get<FederatedSession>(sessionKey(accountId, id));
  }

  account(accountId: string): Promise<AccountRecord | undefined> {
    return this.store.get<AccountRecord>(accountKey(accountId));
  }

  async sessionsOf(accountId: string): Promise<string[]> {
    return Object.keys(await this.store.mapGetAll(accountSessionsKey(accountId)));
  }

  async end(session: FederatedSession): Promise<void> {
    await this.store.batch([
      { op: 'delete', key: sessionKey(session.accountId, session.id) },
      { op: 'mapDelete', key: accountSessionsKey(session.accountId), field: session.id },
    ]);
  }
}
