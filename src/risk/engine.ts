// The risk engine the login flow calls: collect the signals, score, match the client's access policy, decide, audit, and act on high risk.
import type { Auditor } from '../audit/auditor.js';
import type { ClientRiskConfig, RiskConfig, Thresholds, Weights } from '../config/risk.js';
import { lockKeys, type AccountLock, type AccountLocks, type SignInOrigin } from '../session/account-locks.js';
import type { SessionRepository } from '../session/federated-session.js';
import type { TerminateSession } from '../session/terminate.js';
import type { KeyValueStore } from '../store/store.js';
import { compileAccessPolicy, type AccessPolicy } from './access-policy.js';
import { decide, levelOf } from './decide.js';
import { newDeviceId } from './device-cookie.js';
import { createHighRiskAction, type HighRiskOutcome } from './high-risk.js';
import { AccountRiskRecords } from './account-record.js';
import { lockoutStateFor, SmartLockout } from './lockout.js';
import { auditDecision } from './risk-audit.js';
import { mergeWeights, scoreSignals } from './score.js';
import { deviceSignal, userAgentFamily } from './signals/device.js';
import { geoSignal, openGeoDatabase, type GeoLookup } from './signals/geo.js';
import { cidrMatcher, loadReputationList, networkSignal, type CidrMatcher, type NetworkLists } from './signals/network.js';
import { postureScore, postureSignal } from './signals/posture.js';
import { timeSignal, workingHoursClock } from './signals/time.js';
import { upstreamAssurance, upstreamSignal } from './signals/upstream-assurance.js';
import { AddressFailures, velocitySignal } from './signals/velocity.js';
import type { FailureOutcome, LockoutState, RiskDecision, RiskInput, SignalHit } from './types.js';

/** Files the risk section names, read once at start (and on reload). */
export interface RiskResources {
  reputation?: CidrMatcher;
  geo?: GeoLookup;
}

export async function loadRiskResources(config: RiskConfig): Promise<RiskResources> {
  const [reputation, geo] = await Promise.all([
    config.networks.reputationFile ? loadReputationList(config.networks.reputationFile) : undefined,
    config.geo ? openGeoDatabase(config.geo.databaseFile) : undefined,
  ]);
  return { ...(reputation ? { reputation } : {}), ...(geo ? { geo } : {}) };
}

export interface RiskEngineDeps extends RiskResources {
  config: RiskConfig;
  /** The client's `risk` settings (clients[].risk), if any. */
  clientRisk(clientId: string): ClientRiskConfig | undefined;
  store: KeyValueStore;
  locks: Pick<AccountLocks, 'get' | 'held' | 'heldFrom' | 'lock' | 'lockSignIn'>;
  sessions: Pick<SessionRepository, 'sessionsOf' | 'get'>;
  terminate: TerminateSession;
  auditor: Pick<Auditor, 'record'>;
  now?: () => number;
}

/** A failed sign-in as the integrator knows it (after the password or the upstream said no, for a known account id). */
export interface FailedSignIn {
  accountId: string;
  ip: string;
  /** The verified device cookie's id, if any: a device this account used is the familiar origin. */
  deviceId?: string;
  clientId?: string;
  connectorId?: string;
  requestId?: string;
  now?: number;
}

/** A sign-in that passed (after any step-up): the device is remembered, the location kept, the origin's failures cleared. */
export interface SuccessfulSignIn {
  accountId: string;
  deviceId: string;
  userAgent?: string;
  ip: string;
  now?: number;
}

export interface RiskEngine {
  /**
   * Decides one sign-in, authorization or refresh, and audits it (risk.evaluated). On high risk it also acts before
   * answering (account locked, every session ended, risk.high audited and sent to the SOAR webhook): decision.highRisk.
   * A refresh looks only at the account's state (a lock), not at the request (it comes from the client's server).
   */
  evaluate(input: RiskInput): Promise<RiskDecision>;
  /** Before checking a password: is sign-in from this browser's origin locked (refuse without checking), or does it need a second factor? */
  lockoutState(accountId: string, deviceId?: string): Promise<LockoutState & { origin: SignInOrigin }>;
  /** Counts a failed sign-in (velocity and smart lockout); the failure past the limit locks its origin (risk.lockout audited, SOAR webhook). */
  recordFailedSignIn(failure: FailedSignIn): Promise<FailureOutcome>;
  recordSuccessfulSignIn(success: SuccessfulSignIn): Promise<void>;
  /**
   * recordSuccessfulSignIn in two store round trips the caller can share: reads the account's record now and answers
   * the write, which the caller issues once the sign-in has really passed (a step-up: once the session is raised).
   */
  prepareSuccessfulSignIn(success: SuccessfulSignIn): Promise<() => Promise<void>>;
  /** The high-risk action on its own (evaluate already calls it for a high-risk decision). */
  onHighRisk(input: RiskInput, decision: RiskDecision): Promise<HighRiskOutcome>;
  /** The settings the engine runs with (cookie name and lifetime for the device cookie, posture header name). */
  readonly config: RiskConfig;
}

interface ClientRules {
  weights: Weights;
  thresholds: Thresholds;
  policy: AccessPolicy;
  minAcr?: string;
}

export function createRiskEngine(deps: RiskEngineDeps): RiskEngine {
  const { config } = deps;
  const clock = deps.now ?? Date.now;
  const networks: NetworkLists = { trusted: cidrMatcher(config.networks.trusted), blocked: cidrMatcher(config.networks.blocked), ...(deps.reputation ? { reputation: deps.reputation } : {}) };
  const hours = config.workingHours ? workingHoursClock(config.workingHours) : undefined;
  const addressFailures = new AddressFailures(deps.store, config.velocity.windowSeconds * 1000);
  const keepMs = config.device.maxAgeDays * 86_400_000;
  const records = new AccountRiskRecords(deps.store, keepMs);
  const lockout = new SmartLockout(deps.locks, records, addressFailures, config);
  const originOf = async (accountId: string, deviceId: string | undefined, now: number): Promise<SignInOrigin> =>
    deviceId !== undefined && (await records.read(accountId)).device(deviceId, now, keepMs) ? 'familiar' : 'unfamiliar';
  const onHighRisk = createHighRiskAction({ locks: deps.locks, sessions: deps.sessions, terminate: deps.terminate, auditor: deps.auditor, lockMs: config.highRiskLockSeconds * 1000 });
  const baseWeights = mergeWeights(config.weights);
  const rulesByClient = new Map<string, ClientRules>();

  function rulesOf(clientId: string): ClientRules {
    let rules = rulesByClient.get(clientId);
    if (!rules) {
      const client = deps.clientRisk(clientId);
      rules = {
        weights: client?.weights ? mergeWeights(config.weights, client.weights) : baseWeights,
        thresholds: client?.thresholds ?? config.thresholds,
        policy: compileAccessPolicy(client?.accessPolicy),
        ...(client?.minAcr ? { minAcr: client.minAcr } : {}),
      };
      rulesByClient.set(clientId, rules);
    }
    return rules;
  }

  async function evaluateRefresh(input: RiskInput): Promise<RiskDecision> {
    const account = await deps.locks.get(input.accountId);
    const assurance = upstreamAssurance(input.connectorId, input.upstreamAcr, input.upstreamAmr, config.upstreamAssurance);
    const decision: RiskDecision = {
      level: 'low',
      score: 0,
      signals: [],
      action: account ? 'deny' : 'allow',
      rule: account ? `lock:${account.reason}` : 'account_state',
      ...(account ? { reason: 'account_locked' as const } : {}),
      mfaRequired: false,
      stepUpCauses: [],
      upstreamMfa: assurance.mfa,
      upstreamAmr: assurance.amr,
      enrolmentAllowed: false,
      device: { id: input.deviceId ?? '', known: false, issue: false },
      origin: 'unfamiliar',
    };
    auditDecision(deps.auditor, input, decision);
    return decision;
  }

  async function evaluate(input: RiskInput): Promise<RiskDecision> {
    if (input.phase === 'refresh') return evaluateRefresh(input);
    const now = input.now ?? clock();
    const rules = rulesOf(input.clientId);
    const family = userAgentFamily(input.userAgent);
    const here = deps.geo?.(input.ip);
    // Two reads: the account's risk record, and its locks together with the address's failure counters.
    const [record, values] = await Promise.all([records.read(input.accountId), deps.store.getMany([...lockKeys(input.accountId), ...addressFailures.keys(input.ip, now)])]);
    const held = deps.locks.heldFrom(values.slice(0, 3) as (AccountLock | undefined)[]);
    const ipFailures = addressFailures.estimate(values[3] as number | undefined, values[4] as number | undefined, now);
    const known = record.device(input.deviceId, now, keepMs);
    const origin: SignInOrigin = known ? 'familiar' : 'unfamiliar';
    const network = networkSignal(input.ip, networks);
    const insideWorkingHours = hours?.inside(now);
    const posture = postureScore(input.postureHeader, input.fromTrustedProxy);
    const assurance = upstreamAssurance(input.connectorId, input.upstreamAcr, input.upstreamAmr, config.upstreamAssurance);
    const hits: SignalHit[] = config.enabled
      ? [
          ...network.hits,
          ...deviceSignal(known, family),
          ...timeSignal(insideWorkingHours),
          ...velocitySignal(record.failures('familiar', now) + record.failures('unfamiliar', now), ipFailures, config.velocity),
          ...postureSignal(posture, config.posture.minScore),
          ...(config.geo ? geoSignal(record.lastSignIn(), here, now, config.geo) : []),
          ...upstreamSignal(assurance),
        ]
      : [];
    const { score, signals } = scoreSignals(hits, rules.weights);
    const level = levelOf(score, rules.thresholds);
    const policy = rules.policy({
      connectorId: input.connectorId,
      groups: input.groups ?? [],
      ip: input.ip,
      trustedNetwork: network.trusted,
      insideWorkingHours,
      posture,
      scopes: input.scopes ?? [],
    });
    const mfaFresh = input.mfaVerifiedAt !== undefined && now - input.mfaVerifiedAt <= config.stepUpMaxAgeSeconds * 1000 && input.mfaVerifiedAt <= now + 60_000;
    const outcome = decide({
      level,
      lock: lockoutStateFor(held, origin),
      policy,
      ...(rules.minAcr ? { clientMinAcr: rules.minAcr } : {}),
      ...(input.requestedAcr ? { requestedAcr: input.requestedAcr } : {}),
      ...(input.sessionAcr ? { sessionAcr: input.sessionAcr } : {}),
      upstreamMfa: assurance.mfa,
      mfaFresh,
    });
    const decision: RiskDecision = {
      level,
      score,
      signals,
      ...outcome,
      upstreamMfa: assurance.mfa,
      upstreamAmr: assurance.amr,
      enrolmentAllowed: outcome.action !== 'deny' && (level === 'low' || assurance.mfa),
      device: input.deviceId ? { id: input.deviceId, known: known !== undefined, issue: false } : { id: newDeviceId(), known: false, issue: true },
      origin,
    };
    auditDecision(deps.auditor, input, decision);
    if (decision.reason === 'high_risk') decision.highRisk = await onHighRisk(input, decision);
    return decision;
  }

  /** Reads the account's record now; the answered write remembers the device and forgets the origin's failures. */
  async function prepareSuccessfulSignIn(success: SuccessfulSignIn): Promise<() => Promise<void>> {
    const now = success.now ?? clock();
    const snapshot = await records.read(success.accountId);
    const location = deps.geo?.(success.ip);
    return () =>
      records.signedIn(
        success.accountId,
        {
          deviceId: success.deviceId,
          family: userAgentFamily(success.userAgent),
          origin: snapshot.device(success.deviceId, now, keepMs) ? 'familiar' : 'unfamiliar',
          ...(location ? { location } : {}),
          maxDevices: config.device.maxPerAccount,
          now,
        },
        snapshot,
      );
  }

  return {
    config,
    evaluate,
    onHighRisk,
    async lockoutState(accountId, deviceId) {
      const origin = await originOf(accountId, deviceId, clock());
      return { ...(await lockout.state(accountId, origin)), origin };
    },
    async recordFailedSignIn(failure) {
      const now = failure.now ?? clock();
      const origin = await originOf(failure.accountId, failure.deviceId, now);
      const outcome = await lockout.recordFailure(failure.accountId, failure.ip, origin, now);
      if (outcome.lockedNow) {
        deps.auditor.record({
          event: 'risk.lockout',
          outcome: 'failure',
          level: 'error',
          reason: 'failed_sign_ins',
          accountId: failure.accountId,
          ip: failure.ip,
          ...(failure.clientId ? { clientId: failure.clientId } : {}),
          ...(failure.connectorId ? { connectorId: failure.connectorId } : {}),
          ...(failure.requestId ? { requestId: failure.requestId } : {}),
          details: {
            severity: 'medium',
            origin,
            failures: outcome.failures,
            windowSeconds: config.lockout.windowSeconds,
            ...(outcome.state.until ? { lockedUntil: new Date(outcome.state.until).toISOString() } : {}),
          },
        });
      }
      return outcome;
    },
    prepareSuccessfulSignIn,
    async recordSuccessfulSignIn(success) {
      await (await prepareSuccessfulSignIn(success))();
    },
  };
}
