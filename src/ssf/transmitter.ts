// The SSF transmitter: when a session ends or its risk level changes, each client of it that registered a stream gets CAEP session-revoked (and credential-change) or risk-level-change SETs, signed by the issuer, pushed with retries or queued for polling.
import { randomBytes } from 'node:crypto';
import { SignJWT, type CryptoKey, type KeyObject } from 'jose';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Auditor } from '../audit/auditor.js';
import type { FederatedSession } from '../session/federated-session.js';
import type { EndReason } from '../session/terminate.js';
import type { KeyValueStore } from '../store/store.js';
import type { PushClient } from './push-endpoint.js';
import { EVENT, type SubjectId } from './set.js';
import { POLL_METHOD, type StreamRecord, type StreamRepository } from './streams.js';
import { waitUnlessAborted } from '../retry-wait.js';

/** Which client a grant belongs to and the `sid` its ID tokens carry (recorded when its first code is saved). */
interface GrantTarget {
  clientId: string;
  sid?: string;
}

const grantKey = (accountId: string, grantId: string) => `ssf-grant:{${accountId}}:${grantId}`;

/** The events this transmitter sends. */
export const EVENTS_SUPPORTED: readonly string[] = [EVENT.sessionRevoked, EVENT.credentialChange, EVENT.riskLevelChange, EVENT.verification];

/** CAEP 1.0 §3.8.1 levels. */
const CAEP_LEVEL = { low: 'LOW', medium: 'MEDIUM', high: 'HIGH' } as const;

/** Endings that mean the user's credentials changed (CAEP credential-change besides session-revoked). */
const CREDENTIAL_REASONS: ReadonlySet<EndReason> = new Set(['credential_change', 'account_removed']);

/** CAEP initiating_entity of an ending. */
function initiatingEntity(reason: EndReason): 'admin' | 'user' | 'policy' | 'system' {
  if (reason === 'logout') return 'user';
  if (reason === 'admin_revoked' || reason === 'account_locked') return 'admin';
  if (reason === 'upstream_unreachable' || reason === 'connector_removed' || reason === 'upstream_tokens_unreadable') return 'system';
  return 'policy';
}

export interface SigningKey {
  key: CryptoKey | KeyObject;
  kid?: string;
  alg: string;
}

export interface TransmitterOptions {
  provider: Provider;
  store: KeyValueStore;
  streams: StreamRepository;
  push: PushClient;
  auditor: Pick<Auditor, 'record'>;
  logger: Logger;
  issuer: string;
  signingKey: () => Promise<SigningKey>;
  now: () => number;
  /** Waits before the 2nd, 3rd, … push attempt, ms. */
  retryDelaysMs: readonly number[];
  /** How long a grant's target is kept (its longest-lived token), ms. */
  ttlMs: number;
}

interface AuthorizationCodeLike {
  accountId?: string;
  clientId?: string;
  grantId?: string;
  sid?: string;
}

export class SsfTransmitter {
  private readonly pending = new Set<Promise<void>>();
  /** Per push stream, the last delivery queued: a stream's SETs reach its receiver one at a time, in the order they happened. */
  private readonly streamTails = new Map<string, Promise<void>>();
  private readonly stop = new AbortController();

  constructor(private readonly options: TransmitterOptions) {
    options.provider.on('authorization_code.saved', (code: AuthorizationCodeLike) => this.remember(code));
  }

  private remember({ accountId, clientId, grantId, sid }: AuthorizationCodeLike): void {
    if (!accountId || !clientId || !grantId) return;
    this.options.store.set(grantKey(accountId, grantId), { clientId, ...(sid ? { sid } : {}) } satisfies GrantTarget, this.options.ttlMs).catch((err: unknown) => {
      this.options.logger.error({ err: { message: (err as Error)?.message }, clientId }, 'could not record the SSF target of a grant');
    });
  }

  /** terminate()'s subscriber: the ended session's clients with an enabled stream get session-revoked (and credential-change). */
  async sessionEnded(session: FederatedSession, grantIds: readonly string[], reason: EndReason): Promise<void> {
    if (grantIds.length === 0) return;
    const keys = grantIds.map((grantId) => grantKey(session.accountId, grantId));
    let targets: (GrantTarget | undefined)[];
    try {
      targets = await this.options.store.getMany<GrantTarget>(keys);
      await this.options.store.delete(...keys);
    } catch (err) {
      this.options.logger.error({ err: { message: (err as Error)?.message }, accountId: session.accountId }, 'could not read the SSF targets of an ended session');
      return;
    }
    const timestamp = Math.floor(this.options.now() / 1000);
    for (const target of targets) {
      if (!target) continue;
      const subject = this.subjectOf(session.accountId, target.sid);
      await this.publish(session.accountId, target.clientId, subject, EVENT.sessionRevoked, { event_timestamp: timestamp, initiating_entity: initiatingEntity(reason), reason_admin: { en: reason } });
      if (CREDENTIAL_REASONS.has(reason)) {
        await this.publish(session.accountId, target.clientId, subject, EVENT.credentialChange, { event_timestamp: timestamp, credential_type: 'password', change_type: 'update', initiating_entity: initiatingEntity(reason) });
      }
    }
  }

  /**
   * A re-evaluation changed the session's risk level: each client of its grants with a stream gets CAEP
   * risk-level-change (principal SESSION, current_level and previous_level, risk_reason). The grants' targets stay
   * (the session lives on unless the new level ends it, then sessionEnded follows).
   */
  async riskLevelChanged(session: FederatedSession, grantIds: readonly string[], previous: keyof typeof CAEP_LEVEL, current: keyof typeof CAEP_LEVEL, reason: string): Promise<void> {
    if (grantIds.length === 0) return;
    let targets: (GrantTarget | undefined)[];
    try {
      targets = await this.options.store.getMany<GrantTarget>(grantIds.map((grantId) => grantKey(session.accountId, grantId)));
    } catch (err) {
      this.options.logger.error({ err: { message: (err as Error)?.message }, accountId: session.accountId }, 'could not read the SSF targets of a session');
      return;
    }
    const payload = {
      event_timestamp: Math.floor(this.options.now() / 1000),
      initiating_entity: 'policy',
      principal: 'SESSION',
      current_level: CAEP_LEVEL[current],
      previous_level: CAEP_LEVEL[previous],
      risk_reason: reason,
    };
    for (const target of targets) {
      if (target) await this.publish(session.accountId, target.clientId, this.subjectOf(session.accountId, target.sid), EVENT.riskLevelChange, payload);
    }
  }

  /** The broker's name for a user (iss_sub with the account id, as in its ID tokens) and, when known, the client's `sid`. */
  private subjectOf(accountId: string, sid?: string): SubjectId {
    const user = { format: 'iss_sub', iss: this.options.issuer, sub: accountId };
    return sid ? { format: 'complex', user, session: { format: 'opaque', id: sid } } : user;
  }

  /**
   * Sends one event about `accountId` to every enabled stream of `clientId` that asked for it and has not removed
   * the subject, while the client exists and is enabled: a removed or disabled client's receiver hears nothing more.
   */
  async publish(accountId: string, clientId: string, subject: SubjectId, type: string, payload: Record<string, unknown>): Promise<void> {
    let streams: StreamRecord[];
    try {
      streams = await this.options.streams.ofClient(clientId);
      if (streams.length > 0 && !(await this.clientLives(clientId))) {
        this.options.logger.info({ clientId, streams: streams.length }, 'SSF event not sent: the client is removed or disabled');
        return;
      }
    } catch (err) {
      this.options.logger.error({ err: { message: (err as Error)?.message }, clientId }, 'could not read the SSF streams of a client');
      return;
    }
    for (const stream of streams) {
      if (stream.status !== 'enabled' || !stream.events_requested.includes(type) || stream.excluded.includes(accountId)) continue;
      await this.send(stream, subject, type, payload, accountId);
    }
  }

  /** The client is still one the broker serves (configured, or registered and not disabled). */
  private async clientLives(clientId: string): Promise<boolean> {
    return (await this.options.provider.Client.find(clientId)) !== undefined;
  }

  /** SSF 1.0 §8.1.4: a verification event with the receiver's `state`, sent whatever the stream's status. */
  async verify(stream: StreamRecord, state?: string): Promise<void> {
    await this.send(stream, { format: 'opaque', id: stream.stream_id }, EVENT.verification, state === undefined ? {} : { state });
  }

  /** Signs one SET for the stream's receiver and pushes it (in the background, with retries) or queues it for polling. */
  private async send(stream: StreamRecord, subject: SubjectId, type: string, payload: Record<string, unknown>, accountId?: string): Promise<void> {
    const jti = randomBytes(16).toString('base64url');
    const { key, kid, alg } = await this.options.signingKey();
    const token = await new SignJWT({ sub_id: subject, events: { [type]: payload } })
      .setProtectedHeader({ alg, typ: 'secevent+jwt', ...(kid ? { kid } : {}) })
      .setIssuer(this.options.issuer)
      .setAudience(stream.clientId)
      .setIssuedAt(Math.floor(this.options.now() / 1000))
      .setJti(jti)
      .sign(key);
    if (stream.delivery.method === POLL_METHOD) {
      await this.options.streams.enqueue(stream.stream_id, jti, token);
      this.audit('success', stream, type, accountId, { delivery: 'poll_queued' });
      return;
    }
    const previous = this.streamTails.get(stream.stream_id) ?? Promise.resolve();
    const delivery: Promise<void> = previous.then(() => this.deliver(stream, token, type, accountId)).finally(() => {
      this.pending.delete(delivery);
      if (this.streamTails.get(stream.stream_id) === delivery) this.streamTails.delete(stream.stream_id);
    });
    this.streamTails.set(stream.stream_id, delivery);
    this.pending.add(delivery);
  }

  /** RFC 8935: POST application/secevent+jwt, 202 Accepted; retried with backoff; each outcome audited. */
  private async deliver(stream: StreamRecord, token: string, type: string, accountId?: string): Promise<void> {
    const delays = this.options.retryDelaysMs;
    let detail = '';
    for (let attempt = 1; attempt <= delays.length + 1; attempt += 1) {
      if (attempt > 1 && !(await waitUnlessAborted(delays[attempt - 2]!, this.stop.signal))) {
        this.audit('failure', stream, type, accountId, { attempts: attempt - 1, detail }, 'shutdown');
        return;
      }
      try {
        // A retry waits seconds: the client may have been removed or disabled meanwhile.
        if (attempt > 1 && !(await this.clientLives(stream.clientId))) {
          this.audit('failure', stream, type, accountId, { attempts: attempt - 1, detail }, 'client_gone');
          return;
        }
        const headers: Record<string, string> = { 'content-type': 'application/secevent+jwt', accept: 'application/json' };
        if (stream.delivery.authorization_header) headers.authorization = stream.delivery.authorization_header;
        const { status } = await this.options.push.post(stream.delivery.endpoint_url!, token, headers);
        if (status >= 200 && status < 300) {
          this.audit('success', stream, type, accountId, { attempts: attempt });
          return;
        }
        detail = `answered ${status}`;
        // 400: the receiver refused this SET (RFC 8935 §2.3); sending it again would not change its mind.
        if (status === 400) break;
      } catch (err) {
        detail = String((err as Error)?.message ?? err).slice(0, 200);
      }
      this.options.logger.warn({ streamId: stream.stream_id, clientId: stream.clientId, attempt, detail }, 'SSF push failed');
    }
    this.audit('failure', stream, type, accountId, { detail }, 'delivery_failed');
  }

  private audit(outcome: 'success' | 'failure', stream: StreamRecord, type: string, accountId: string | undefined, details: Record<string, string | number>, reason?: string): void {
    this.options.auditor.record({
      event: 'ssf.delivered',
      outcome,
      clientId: stream.clientId,
      ...(accountId ? { accountId } : {}),
      ...(reason ? { reason } : {}),
      details: { event: type.slice(type.lastIndexOf('/') + 1), streamId: stream.stream_id, ...details },
    });
  }

  /** Resolves when every push started so far has succeeded or given up. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Stops retrying (pending retries audited as failures, reason `shutdown`) and waits for pushes in flight. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.idle();
    await this.options.push.close();
  }
}
