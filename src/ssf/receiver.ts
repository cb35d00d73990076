// The SSF receiver: a Security Event Token from an upstream transmitter is validated, claimed once (jti), and applied to the sessions it names: ended, or marked for step-up.
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { Auditor } from '../audit/auditor.js';
import type { SsfReceiverConfig } from '../config/ssf-schema.js';
import type { FederatedSession, SessionRepository } from '../session/federated-session.js';
import type { StepUpDemands } from '../session/step-up-demand.js';
import type { EndContext, EndReason, TerminateSession } from '../session/terminate.js';
import type { KeyValueStore } from '../store/store.js';
import { EVENT, SetError, validateSet, type SubjectId, type ValidSet } from './set.js';

export interface ReceiverDeps {
  sessions: Pick<SessionRepository, 'byUpstreamSubject' | 'byUpstreamSid'>;
  terminate: TerminateSession;
  stepUps: Pick<StepUpDemands, 'demand' | 'clear'>;
  store: Pick<KeyValueStore, 'setIfAbsent' | 'get' | 'set' | 'delete'>;
  auditor: Pick<Auditor, 'record'>;
  now: () => number;
  /** The broker issuer: the default audience. */
  issuer: string;
  /** Timeout of the JWKS fetch, ms. */
  httpTimeoutMs: number;
}

/** What applying one SET did. */
export interface Applied {
  type: string;
  ended: number;
  steppedUp: number;
}

/**
 * A SET with this jti is being applied right now (or was, by a request that failed without a word from the store):
 * come back later. Its effects are idempotent, so once the mark lapses (APPLYING_MS) a retry applies it again.
 */
export class SetBusyError extends Error {
  override readonly name = 'SetBusyError';
  constructor() {
    super('a SET with this jti is being applied');
  }
}

/** How long a jti is held while its SET is applied: longer than an apply takes, short enough for a retry to follow. */
const APPLYING_MS = 30_000;
/** A jti's mark once its SET is applied: a replay of it is refused. */
const APPLIED = 'applied';

const replayKey = (provider: string, jti: string) => `ssf-jti:${createHash('sha256').update(`${provider}\u0000${jti}`).digest('base64url')}`;

/** The last path segment of an event type URI, for audit records and logs. */
export const eventName = (type: string) => type.slice(type.lastIndexOf('/') + 1);

const stringMember = (subject: SubjectId | undefined, name: string) => (typeof subject?.[name] === 'string' ? (subject[name] as string) : undefined);
const asSubject = (value: unknown): SubjectId | undefined =>
  typeof value === 'object' && value !== null && typeof (value as SubjectId).format === 'string' ? (value as SubjectId) : undefined;

/** The upstream's name for a user subject (iss_sub: sub; opaque: id); undefined for formats the broker cannot map (email, phone). */
function userSubject(subject: SubjectId | undefined): string | undefined {
  if (subject?.format === 'iss_sub') return stringMember(subject, 'sub');
  if (subject?.format === 'opaque') return stringMember(subject, 'id');
  return undefined;
}

/**
 * The broker sessions a subject names at the provider: a `complex` subject's session (opaque id = the upstream's
 * `sid`), narrowed by its user when both are there; otherwise every session of the user.
 */
async function sessionsNamed(deps: ReceiverDeps, provider: string, subject: SubjectId): Promise<FederatedSession[]> {
  const user = subject.format === 'complex' ? asSubject(subject.user) : subject;
  const sid = subject.format === 'complex' ? stringMember(asSubject(subject.session), 'id') : undefined;
  const sub = userSubject(user);
  if (sid !== undefined) {
    const sessions = await deps.sessions.byUpstreamSid(provider, sid);
    return sub === undefined ? sessions : sessions.filter((session) => session.identity.subject === sub);
  }
  return sub === undefined ? [] : deps.sessions.byUpstreamSubject(provider, sub);
}

/** What the event asks of a session: end it (with the reason), demand a step-up, lift a demand, or nothing. */
function actionOf(config: SsfReceiverConfig, set: ValidSet): { kind: 'end'; reason: EndReason } | { kind: 'step_up'; reason: string } | { kind: 'restore' } | { kind: 'none' } {
  switch (set.type) {
    case EVENT.sessionRevoked:
      return { kind: 'end', reason: 'upstream_revoked' };
    case EVENT.credentialChange:
      return { kind: 'end', reason: 'credential_change' };
    case EVENT.assuranceLevelChange: {
      if (set.event.change_direction === 'increase') return { kind: 'restore' };
      return config.onAssuranceLevelChange === 'end' ? { kind: 'end', reason: 'upstream_trust_lowered' } : { kind: 'step_up', reason: 'assurance_level_change' };
    }
    case EVENT.deviceComplianceChange: {
      if (set.event.current_status === 'compliant') return { kind: 'restore' };
      return config.onDeviceComplianceChange === 'end' ? { kind: 'end', reason: 'upstream_trust_lowered' } : { kind: 'step_up', reason: 'device_compliance_change' };
    }
    default:
      // verification, stream-updated, risk-level-change: acknowledged and audited; nothing to do to a session.
      return { kind: 'none' };
  }
}

export class SsfReceiver {
  private readonly keys = new Map<string, JWTVerifyGetKey>();
  private readonly byProvider: Map<string, SsfReceiverConfig>;

  constructor(
    private readonly deps: ReceiverDeps,
    receivers: readonly SsfReceiverConfig[],
  ) {
    this.byProvider = new Map(receivers.map((receiver) => [receiver.provider, receiver]));
  }

  /** The receiver settings of a provider, when it is configured to transmit. */
  configOf(provider: string): SsfReceiverConfig | undefined {
    return this.byProvider.get(provider);
  }

  private keysOf(config: SsfReceiverConfig): JWTVerifyGetKey {
    let keys = this.keys.get(config.provider);
    if (!keys) {
      keys = createRemoteJWKSet(new URL(config.jwksUri), { timeoutDuration: this.deps.httpTimeoutMs, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
      this.keys.set(config.provider, keys);
    }
    return keys;
  }

  /**
   * Validates and applies one SET from `provider`'s transmitter. Throws SetError for anything invalid or replayed;
   * every outcome is audited as `ssf.received`.
   */
  async receive(config: SsfReceiverConfig, token: string, context: EndContext = {}): Promise<Applied> {
    const { deps } = this;
    try {
      const set = await validateSet(token, {
        issuer: config.issuer,
        audience: config.audience ?? deps.issuer,
        keys: this.keysOf(config),
        algorithms: config.algorithms,
        maxAgeSec: config.maxAgeSeconds,
        now: deps.now(),
      });
      // The jti is held while the SET is applied and marked applied only afterwards, so a store that fails at any step
      // (even one that took the mark and lost its answer) leads to a retry that applies it, never to a false replay.
      const key = replayKey(config.provider, set.jti);
      if (!(await deps.store.setIfAbsent(key, 'applying', APPLYING_MS))) {
        if ((await deps.store.get(key)) === APPLIED) throw new SetError('invalid_request', 'set_replayed', 'jti already received');
        throw new SetBusyError();
      }
      let applied: Applied;
      try {
        applied = await this.apply(config, set, context);
      } catch (error) {
        // The store failed half-way: forget the jti so that the transmitter's retry is not refused (or held) meanwhile.
        await deps.store.delete(key).catch(() => undefined);
        throw error;
      }
      // Kept a little longer than a SET may be old, so a replay is refused until its iat refuses it anyway.
      await deps.store.set(key, APPLIED, (config.maxAgeSeconds + 120) * 1000);
      deps.auditor.record({
        event: 'ssf.received',
        outcome: 'success',
        connectorId: config.provider,
        ...context,
        details: { event: eventName(set.type), sessionsEnded: applied.ended, stepUpsDemanded: applied.steppedUp },
      });
      return applied;
    } catch (error) {
      const reason = error instanceof SetError ? error.reason : error instanceof SetBusyError ? 'set_busy' : 'internal_error';
      const detail = error instanceof SetError ? error.detail : 'unexpected error';
      deps.auditor.record({ event: 'ssf.received', outcome: 'failure', reason, connectorId: config.provider, ...context, details: { detail } });
      throw error;
    }
  }

  /** Audits a push refused before its SET was read (wrong Authorization, media type, size). */
  refused(provider: string, reason: string, context: EndContext = {}): void {
    this.deps.auditor.record({ event: 'ssf.received', outcome: 'failure', reason, connectorId: provider, ...context });
  }

  private async apply(config: SsfReceiverConfig, set: ValidSet, context: EndContext): Promise<Applied> {
    const action = actionOf(config, set);
    const applied: Applied = { type: set.type, ended: 0, steppedUp: 0 };
    if (action.kind === 'none') return applied;
    const sessions = await sessionsNamed(this.deps, config.provider, set.subject);
    for (const session of sessions) {
      if (action.kind === 'end') {
        await this.deps.terminate(session, action.reason, context);
        applied.ended += 1;
      } else if (action.kind === 'step_up') {
        await this.deps.stepUps.demand(session.accountId, session.id, { reason: action.reason, at: this.deps.now() });
        applied.steppedUp += 1;
      } else await this.deps.stepUps.clear(session.accountId, session.id);
    }
    return applied;
  }
}
