// The FederatedSession record: who signed in, through which upstream, when it was last verified and when it is next due (the due index).
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
  /** When it is next due for re-verification (set by save() and reschedule()); also its place in the due index. */
  nextCheckAt?: number;
  /** Since when its upstream has been unreachable (timeouts, 5xx), and how many checks failed so; null or absent: reachable. */
  unreachableSince?: number | null;
  unreachableAttempts?: number | null;
  /** Marked for re-authentication at the upstream through the browser (SAML at its interval); null or absent: not marked. */
  reauth?: ReauthMark | null;
  /** What this browser proved: set at sign-in, raised by a step-up. */
  assurance?: SessionAssurance;
  /** The risk decision of the sign-in that made this session (for step-up and the demo; no secrets). */
  risk?: SessionRisk;
}

/** When a session was marked for re-authentication, and how its next authorization asks the upstream. */
export interface ReauthMark {
  at: number;
  mode: 'passive' | 'force';
}

/** How the session's user authenticated: the acr achieved, RFC 8176 methods, login time, last second factor. */
export interface SessionAssurance {
  acr: string;
  amr: string[];
  /** Login time, seconds since epoch (the ID token's auth_time). */
  authTime: number;
  /** When a second factor was last satisfied in this session (ms since epoch); absent: never. */
  mfaAt?: number;
}

/** A risk decision as the session keeps it: the level, when, and the names of the signals that raised it. */
export interface SessionRisk {
  level: 'low' | 'medium' | 'high';
  at: number;
  score: number;
  signals: string[];
  /** The acr the sign-in's decision asked for (a second factor before the session is used); absent: none. */
  requiredAcr?: string;
  /** Why, for the factor page. */
  stepUpReason?: 'acr_requested' | 'client_requires_mfa' | 'risk_medium' | 'upstream_signal';
  /** The upstream did MFA in this sign-in. */
  upstreamMfa: boolean;
}

/** A session the due index handed out. */
export interface DueSession {
  accountId: string;
  sessionId: string;
  dueAt: number;
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
/** Every session in one time-ordered index of when it is next due (one Redis Cluster slot: one hash tag). */
const DUE_KEY = 'reverify-due:{reverify}';
const dueMember = (accountId: string, id: string) => `${accountId}.${id}`;
/** Sessions by upstream subject (SAML NameID or OIDC sub), for upstream-initiated logout. */
const upstreamKey = (connectorId: string, upstreamSubject: string) =>
  `upstream-sessions:{${createHash('sha256').update(`${connectorId}\u0000${upstreamSubject}`).digest('base64url')}}`;

/** Sessions by the upstream's session id (OIDC `sid`), for back-channel logout tokens that name only the session. */
const upstreamSidKey = (connectorId: string, sid: string) =>
  `upstream-sid:{${createHash('sha256').update(`${connectorId}\u0000${sid}`).digest('base64url')}}`;

/** The upstream's session id (OIDC `sid` of its ID token), when it sent one. */
function upstreamSidOf(session: Pick<FederatedSession, 'identity'>): string | undefined {
  const sid = session.identity.connectorData?.sid;
  return typeof sid === 'string' ? sid : undefined;
}

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
    /** Re-verification interval of a connector's sessions, ms. */
    private readonly intervalOf: (connectorId: string) => number = () => 15 * 60_000,
  ) {}

  /** When a session verified at lastVerifiedAt is next due: after its connector's interval, or when its upstream session ends. */
  private dueAt(session: FederatedSession): number {
    return Math.min(session.lastVerifiedAt + this.intervalOf(session.connectorId), session.identity.sessionNotOnOrAfter ?? Infinity);
  }

  /**
   * Saves the session, the account's claims and the account -> sessions index in one atomic write, then the
   * upstream-subject index and the due index (other cluster slots; an index entry without its session is skipped on read).
   * The saved record is due after its connector's interval from lastVerifiedAt; a save clears the unreachable and
   * re-authentication marks. `previous`: the stored record this save replaces (a re-verification); when its upstream
   * subject, upstream session id and end are the same, the upstream indexes already hold it and are not written again
   * (each write prunes the whole subject's index: O(its sessions) in the store for every check).
   */
  async save(saved: FederatedSession, account: AccountRecord, previous?: FederatedSession): Promise<void> {
    const { unreachableSince: _since, unreachableAttempts: _attempts, reauth: _reauth, ...rest } = saved;
    const session: FederatedSession = { ...rest, nextCheckAt: this.dueAt(rest) };
    // A session ends at its TTL or when its upstream said so (SAML SessionNotOnOrAfter), whichever comes first: from then on
    // sessionsOf leaves it out, so findAccount refuses its tokens and the interaction policy its browser session.
    const expiresAt = this.expiresAt(session);
    const indexed =
      previous !== undefined &&
      previous.id === session.id &&
      upstreamSubjectOf(previous) === upstreamSubjectOf(session) &&
      upstreamSidOf(previous) === upstreamSidOf(session) &&
      this.expiresAt(previous) === expiresAt;
    const upstream = upstreamKey(session.connectorId, upstreamSubjectOf(session));
    // Each save also drops the indexes' entries of sessions that have expired since (account.updatedAt is "now").
    await this.store.batch([
      { op: 'set', key: sessionKey(session.accountId, session.id), value: session, ttlMs: this.ttlMs },
      { op: 'set', key: accountKey(account.accountId), value: account, ttlMs: this.ttlMs },
      { op: 'mapPrune', key: accountSessionsKey(account.accountId), upTo: account.updatedAt },
      { op: 'mapSet', key: accountSessionsKey(account.accountId), field: session.id, value: expiresAt, ttlMs: this.ttlMs },
    ]);
    await Promise.all([
      indexed
        ? undefined
        : this.store.batch([
            { op: 'mapPrune', key: upstream, upTo: account.updatedAt },
            { op: 'mapSet', key: upstream, field: `${session.accountId}.${session.id}`, value: expiresAt, ttlMs: this.ttlMs },
          ]),
      this.store.scheduleAdd(DUE_KEY, dueMember(session.accountId, session.id), session.nextCheckAt!),
      indexed ? undefined : this.indexSid(session, expiresAt, account.updatedAt),
    ]);
  }

  /** When the session ends: its TTL after creation, or its upstream's end (SAML SessionNotOnOrAfter) if sooner. */
  private expiresAt(session: FederatedSession): number {
    return Math.min(session.createdAt + this.ttlMs, session.identity.sessionNotOnOrAfter ?? Infinity);
  }

  private async indexSid(session: FederatedSession, expiresAt: number, now: number): Promise<void> {
    const sid = upstreamSidOf(session);
    if (sid === undefined) return;
    const key = upstreamSidKey(session.connectorId, sid);
    await this.store.batch([
      { op: 'mapPrune', key, upTo: now },
      { op: 'mapSet', key, field: `${session.accountId}.${session.id}`, value: expiresAt, ttlMs: this.ttlMs },
    ]);
  }

  /** Moves the session's next check to `dueAt` (record and index), with extra fields for the record; false when it is gone. */
  async reschedule(session: FederatedSession, dueAt: number, fields: Partial<Pick<FederatedSession, 'unreachableSince' | 'unreachableAttempts' | 'reauth'>> = {}): Promise<boolean> {
    const exists = await this.store.assign(sessionKey(session.accountId, session.id), { ...fields, nextCheckAt: dueAt });
    if (exists) await this.store.scheduleAdd(DUE_KEY, dueMember(session.accountId, session.id), dueAt);
    return exists;
  }

  /** Records a re-evaluated risk on the session (re-verification); false when the session is gone. */
  async recordRisk(session: Pick<FederatedSession, 'accountId' | 'id'>, risk: SessionRisk): Promise<boolean> {
    return this.store.assign(sessionKey(session.accountId, session.id), { risk });
  }

  /** Records a raised assurance (step-up) on the session; false when the session is gone. */
  async raiseAssurance(session: Pick<FederatedSession, 'accountId' | 'id'>, assurance: SessionAssurance): Promise<boolean> {
    return this.store.assign(sessionKey(session.accountId, session.id), { assurance });
  }

  /**
   * Takes up to `limit` sessions due by `now` from the due index; each is leased to the caller for `leaseMs` (no other
   * instance takes it meanwhile) and comes back due if the caller neither reschedules nor ends it.
   */
  async takeDue(now: number, limit: number, leaseMs: number): Promise<DueSession[]> {
    const entries = await this.store.scheduleTakeDue(DUE_KEY, now, limit, leaseMs);
    return entries.map(({ member, dueAt }) => {
      const dot = member.indexOf('.');
      return { accountId: member.slice(0, dot), sessionId: member.slice(dot + 1), dueAt };
    });
  }

  /** Drops a due-index entry whose session has expired or ended. */
  async unschedule(accountId: string, id: string): Promise<void> {
    await this.store.scheduleRemove(DUE_KEY, dueMember(accountId, id));
  }

  get(accountId: string, id: string): Promise<FederatedSession | undefined> {
    return this.store.get<FederatedSession>(sessionKey(accountId, id));
  }

  account(accountId: string): Promise<AccountRecord | undefined> {
    return this.store.get<AccountRecord>(accountKey(accountId));
  }

  /** Whether one session of the account lives (not ended, not expired): one field of the index, however many sessions the account holds. */
  async isLive(accountId: string, id: string, now = Date.now()): Promise<boolean> {
    const expiresAt = await this.store.mapGet<number>(accountSessionsKey(accountId), id);
    return expiresAt !== undefined && expiresAt > now;
  }

  /**
   * The session's record when it lives (not ended, not expired): its index field and its record in one store turn, so a
   * token use that goes on to check the session needs no second read.
   */
  async liveSession(accountId: string, id: string, now = Date.now()): Promise<FederatedSession | undefined> {
    const [expiresAt, session] = await Promise.all([this.store.mapGet<number>(accountSessionsKey(accountId), id), this.get(accountId, id)]);
    return expiresAt !== undefined && expiresAt > now ? session : undefined;
  }

  /** Ids of the account's sessions that have not expired. */
  async sessionsOf(accountId: string, now = Date.now()): Promise<string[]> {
    const sessions = await this.store.mapGetAll<number>(accountSessionsKey(accountId));
    return Object.entries(sessions)
      .filter(([, expiresAt]) => expiresAt > now)
      .map(([id]) => id);
  }

  /** The live sessions an upstream subject has at a connector. */
  byUpstreamSubject(connectorId: string, upstreamSubject: string): Promise<FederatedSession[]> {
    return this.byIndex(connectorId, upstreamKey(connectorId, upstreamSubject));
  }

  /** The live sessions of one upstream session (OIDC `sid`) at a connector. */
  async byUpstreamSid(connectorId: string, sid: string): Promise<FederatedSession[]> {
    return (await this.byIndex(connectorId, upstreamSidKey(connectorId, sid))).filter((session) => upstreamSidOf(session) === sid);
  }

  private async byIndex(connectorId: string, key: string): Promise<FederatedSession[]> {
    const pointers = Object.keys(await this.store.mapGetAll(key));
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
    await Promise.all([
      this.store.batch([{ op: 'mapDelete', key: upstreamKey(session.connectorId, upstreamSubjectOf(session)), field: `${session.accountId}.${session.id}` }]),
      this.unschedule(session.accountId, session.id),
      ...(upstreamSidOf(session) === undefined ? [] : [this.store.batch([{ op: 'mapDelete', key: upstreamSidKey(session.connectorId, upstreamSidOf(session)!), field: `${session.accountId}.${session.id}` }])]),
    ]);
  }
}
