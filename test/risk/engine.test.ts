// The risk engine over a real store (memory and Redis): signals from request facts, per-client rules, every decision audited, and high risk ending the account's sessions and tokens.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/audit/auditor.js';
import { clientRiskSchema, riskConfigSchema, type ClientRiskConfig } from '../../src/config/risk.js';
import { ACR_MFA, ACR_PASSWORD } from '../../src/mfa/assurance.js';
import { createRiskEngine, type RiskEngineDeps } from '../../src/risk/engine.js';
import type { GeoPoint } from '../../src/risk/signals/geo.js';
import type { RiskInput } from '../../src/risk/types.js';
import { AccountLocks } from '../../src/session/account-locks.js';
import { newSessionId, SessionRepository } from '../../src/session/federated-session.js';
import { GrantBindings } from '../../src/session/grant-bindings.js';
import { createTerminator } from '../../src/session/terminate.js';
import { createTokenVault } from '../../src/session/vault.js';
import { createGrantRevoker, createOidcAdapter } from '../../src/store/oidc-adapter.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
// Tuesday 2026-12-01 10:00 in Berlin; 22:00 is off hours.
const WORKDAY = Date.parse('2026-12-01T09:00:00Z');
const NIGHT = Date.parse('2026-12-01T21:00:00Z');

const config = riskConfigSchema.parse({
  networks: { trusted: ['10.0.0.0/8'], blocked: ['203.0.113.0/24'] },
  workingHours: { timeZone: 'Europe/Berlin', start: '08:00', end: '19:00' },
  geo: { databaseFile: 'unused.mmdb' },
});

let store: KeyValueStore | undefined;
afterEach(async () => {
  await closeTestStore(store);
  store = undefined;
});

async function setup(open: () => Promise<KeyValueStore>, options: { clients?: Record<string, unknown>; geo?: Record<string, GeoPoint> } = {}) {
  store = await open();
  const audit: AuditInput[] = [];
  const auditor = { record: (input: AuditInput) => void audit.push(input) };
  const sessions = new SessionRepository(store, 86_400_000);
  const bindings = new GrantBindings(store, 86_400_000);
  const Adapter = createOidcAdapter(store);
  const locks = new AccountLocks(store);
  const terminate = createTerminator({ sessions, bindings, vault: createTokenVault({ store, keys: [randomBytes(32)] }), auditor, revokeGrant: createGrantRevoker(Adapter) });
  const clients = new Map(Object.entries(options.clients ?? {}).map(([id, value]) => [id, clientRiskSchema.parse(value)]));
  const deps: RiskEngineDeps = {
    config,
    clientRisk: (clientId): ClientRiskConfig | undefined => clients.get(clientId),
    store,
    locks,
    sessions,
    terminate,
    auditor,
    ...(options.geo ? { geo: (ip: string) => options.geo?.[ip] } : {}),
  };
  const engine = createRiskEngine(deps);
  const input = (overrides: Partial<RiskInput> = {}): RiskInput => ({
    phase: 'sign-in',
    clientId: 'app',
    accountId: 'acct-1',
    connectorId: 'corp',
    ip: '10.1.2.3',
    userAgent: FIREFOX,
    fromTrustedProxy: false,
    now: WORKDAY,
    ...overrides,
  });
  /** A live session of acct-1 holding a grant with a refresh token, as a finished sign-in leaves it. */
  async function liveSession() {
    const session = { id: newSessionId(), accountId: 'acct-1', connectorId: 'corp', identity: { connectorId: 'corp', subject: 'alice', groups: [], amr: ['pwd'], rawClaims: {} }, createdAt: Date.now(), lastVerifiedAt: Date.now() };
    await sessions.save(session, { accountId: 'acct-1', connectorId: 'corp', claims: { sub: 'acct-1' }, updatedAt: Date.now() });
    const grantId = randomBytes(8).toString('hex');
    await new Adapter('Grant').upsert(grantId, { jti: grantId, accountId: 'acct-1', clientId: 'app', kind: 'Grant' }, 3600);
    await new Adapter('RefreshToken').upsert(`rt-${grantId}`, { jti: `rt-${grantId}`, grantId, accountId: 'acct-1', clientId: 'app', kind: 'RefreshToken' }, 3600);
    await bindings.bind('acct-1', session.id, grantId);
    return { session, refreshToken: () => new Adapter('RefreshToken').find(`rt-${grantId}`), grant: () => new Adapter('Grant').find(grantId) };
  }
  return { engine, audit, sessions, locks, input, liveSession };
}

describe.each(STORE_BACKENDS)('risk engine on %s', (_name, open) => {
  it('a low-risk sign-in is allowed without a factor, a device id is handed out, and the decision is audited without secrets', async () => {
    const { engine, audit, input } = await setup(open);
    const decision = await engine.evaluate(input({ postureHeader: '95', requestId: 'req-1' }));
    expect(decision).toMatchObject({ level: 'low', score: 20, action: 'allow', mfaRequired: false, enrolmentAllowed: true, origin: 'unfamiliar', device: { known: false, issue: true } });
    expect(decision.signals).toEqual([{ signal: 'device.new', weight: 20 }]);
    expect(decision.device.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(audit).toEqual([
      expect.objectContaining({
        event: 'risk.evaluated',
        outcome: 'success',
        level: 'info',
        accountId: 'acct-1',
        clientId: 'app',
        ip: '10.1.2.3',
        requestId: 'req-1',
        details: expect.objectContaining({ phase: 'sign-in', level: 'low', score: 20, action: 'allow', rule: 'score', signals: 'device.new+20', knownDevice: false }),
      }),
    ]);
    expect(JSON.stringify(audit)).not.toContain(decision.device.id);
  });

  it('a remembered device is familiar; a change of browser family on it counts', async () => {
    const { engine, input } = await setup(open);
    const first = await engine.evaluate(input());
    await engine.recordSuccessfulSignIn({ accountId: 'acct-1', deviceId: first.device.id, userAgent: FIREFOX, ip: '10.1.2.3', now: WORKDAY });
    const again = await engine.evaluate(input({ deviceId: first.device.id }));
    expect(again).toMatchObject({ score: 0, signals: [], origin: 'familiar', device: { id: first.device.id, known: true, issue: false } });
    const otherBrowser = await engine.evaluate(input({ deviceId: first.device.id, userAgent: CHROME }));
    expect(otherBrowser.signals).toEqual([{ signal: 'device.user_agent_changed', weight: 15, detail: 'firefox/linux -> chrome/windows' }]);
    // The device is known for acct-1 only.
    expect((await engine.evaluate(input({ accountId: 'acct-2', deviceId: first.device.id }))).device.known).toBe(false);
  });

  it('a prepared success reads the record only: the device is remembered when its write is issued, not before', async () => {
    const { engine, input } = await setup(open);
    const first = await engine.evaluate(input());
    const remember = await engine.prepareSuccessfulSignIn({ accountId: 'acct-1', deviceId: first.device.id, userAgent: FIREFOX, ip: '10.1.2.3', now: WORKDAY });
    expect((await engine.evaluate(input({ deviceId: first.device.id }))).device.known).toBe(false);
    await remember();
    expect(await engine.evaluate(input({ deviceId: first.device.id }))).toMatchObject({ origin: 'familiar', device: { id: first.device.id, known: true } });
  });

  it('an untrusted network, a new device and off hours: medium, step-up to the MFA acr; a factor verified recently satisfies it', async () => {
    const { engine, input } = await setup(open);
    const decision = await engine.evaluate(input({ ip: '192.0.2.50', now: NIGHT }));
    expect(decision).toMatchObject({ level: 'medium', score: 60, action: 'step_up', requiredAcr: ACR_MFA, stepUpCauses: ['risk'], enrolmentAllowed: false });
    expect(decision.signals.map((s) => s.signal)).toEqual(['network.untrusted', 'device.new', 'time.off_hours']);
    expect(await engine.evaluate(input({ ip: '192.0.2.50', now: NIGHT, mfaVerifiedAt: NIGHT - 60_000 }))).toMatchObject({ action: 'allow' });
    expect(await engine.evaluate(input({ ip: '192.0.2.50', now: NIGHT, mfaVerifiedAt: NIGHT - 901_000 }))).toMatchObject({ action: 'step_up' });
    // An upstream that did MFA counts as the factor and takes points off.
    expect(await engine.evaluate(input({ ip: '192.0.2.50', now: NIGHT, upstreamAmr: ['pwd', 'otp'] }))).toMatchObject({ level: 'low', score: 40, action: 'allow', upstreamMfa: true, upstreamAmr: ['pwd', 'otp', 'mfa'], enrolmentAllowed: true });
  });

  it('a client that requires MFA gets step-up even at low risk; an MFA session passes', async () => {
    const { engine, input } = await setup(open, { clients: { bank: { minAcr: ACR_MFA } } });
    expect(await engine.evaluate(input({ clientId: 'bank', sessionAcr: ACR_PASSWORD }))).toMatchObject({ level: 'low', action: 'step_up', stepUpCauses: ['client_policy'], requiredAcr: ACR_MFA });
    expect(await engine.evaluate(input({ clientId: 'bank', phase: 'authorization', sessionAcr: ACR_MFA }))).toMatchObject({ action: 'allow' });
    expect(await engine.evaluate(input({ clientId: 'app' }))).toMatchObject({ action: 'allow' });
  });

  it('per-client weights and thresholds apply to that client only', async () => {
    const { engine, input } = await setup(open, { clients: { strict: { weights: { 'device.new': 60 }, thresholds: { medium: 30, high: 60 } } } });
    expect(await engine.evaluate(input({ clientId: 'strict' }))).toMatchObject({ score: 60, level: 'high', action: 'deny', reason: 'high_risk' });
    expect(await engine.evaluate(input({ clientId: 'app', accountId: 'acct-9' }))).toMatchObject({ score: 20, level: 'low' });
  });

  it('an access policy denies what it does not allow (audited with the rule)', async () => {
    const { engine, audit, input } = await setup(open, { clients: { hr: { accessPolicy: { rules: [{ name: 'office', source: { networks: 'trusted', minPosture: 60 }, action: 'allow' }] } } } });
    expect(await engine.evaluate(input({ clientId: 'hr', postureHeader: '70', fromTrustedProxy: true }))).toMatchObject({ action: 'allow', rule: 'policy:office' });
    // The same header from a client that is not a trusted proxy is not believed.
    const denied = await engine.evaluate(input({ clientId: 'hr', postureHeader: '70', fromTrustedProxy: false }));
    expect(denied).toMatchObject({ action: 'deny', reason: 'access_denied', rule: 'policy:default_deny' });
    expect(audit.at(-1)).toMatchObject({ event: 'risk.evaluated', outcome: 'failure', level: 'warn', reason: 'access_denied', details: expect.objectContaining({ rule: 'policy:default_deny' }) });
  });

  it('failed sign-ins raise velocity; the sixth from an unfamiliar browser locks that origin (risk.lockout), the known browser steps up', async () => {
    const { engine, audit, input } = await setup(open);
    const known = (await engine.evaluate(input())).device.id;
    await engine.recordSuccessfulSignIn({ accountId: 'acct-1', deviceId: known, userAgent: FIREFOX, ip: '10.1.2.3', now: WORKDAY });
    const now = WORKDAY;
    for (let i = 0; i < 3; i++) await engine.recordFailedSignIn({ accountId: 'acct-1', ip: '192.0.2.66', now });
    expect((await engine.evaluate(input({ deviceId: known, now }))).signals.map((s) => s.signal)).toEqual(['velocity.account']);
    for (let i = 0; i < 3; i++) await engine.recordFailedSignIn({ accountId: 'acct-1', ip: '192.0.2.66', clientId: 'app', now });
    expect(audit.filter((event) => event.event === 'risk.lockout')).toEqual([
      expect.objectContaining({ outcome: 'failure', level: 'error', accountId: 'acct-1', ip: '192.0.2.66', clientId: 'app', details: expect.objectContaining({ origin: 'unfamiliar', failures: 6 }) }),
    ]);
    expect(await engine.lockoutState('acct-1')).toMatchObject({ locked: true, origin: 'unfamiliar' });
    expect(await engine.lockoutState('acct-1', known)).toMatchObject({ locked: false, stepUp: true, origin: 'familiar' });
    expect(await engine.evaluate(input({ now }))).toMatchObject({ action: 'deny', reason: 'sign_in_locked' });
    expect(await engine.evaluate(input({ deviceId: known, now }))).toMatchObject({ action: 'step_up', stepUpCauses: ['lockout'] });
  });

  it('high risk on a second sign-in ends the account\'s existing session: grant and refresh token gone, account locked, risk.high audited', async () => {
    const { engine, audit, sessions, locks, input, liveSession } = await setup(open);
    const live = await liveSession();
    expect(await live.refreshToken()).toBeDefined();
    const decision = await engine.evaluate(input({ ip: '203.0.113.9', requestId: 'req-9' }));
    expect(decision).toMatchObject({ level: 'high', action: 'deny', reason: 'high_risk', highRisk: { sessionsEnded: 1 } });
    expect(await sessions.get('acct-1', live.session.id)).toBeUndefined();
    expect(await live.refreshToken()).toBeUndefined();
    expect(await live.grant()).toBeUndefined();
    expect(await locks.get('acct-1')).toMatchObject({ reason: 'high_risk' });
    expect(audit).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'high_risk', accountId: 'acct-1', ip: '203.0.113.9' }));
    expect(audit).toContainEqual(
      expect.objectContaining({ event: 'risk.high', level: 'error', accountId: 'acct-1', requestId: 'req-9', details: expect.objectContaining({ severity: 'high', sessionsEnded: 1, signals: 'network.blocked+100,network.untrusted+20,device.new+20' }) }),
    );
    // Refresh re-checks the account's state, not the request: refused while the lock holds.
    expect(await engine.evaluate(input({ phase: 'refresh', ip: '10.9.9.9' }))).toMatchObject({ action: 'deny', reason: 'account_locked', rule: 'lock:high_risk' });
    // So is a sign-in from a good network.
    expect(await engine.evaluate(input())).toMatchObject({ action: 'deny', reason: 'account_locked' });
  });

  it('impossible travel between consecutive sign-ins (injected lookup)', async () => {
    const { engine, input } = await setup(open, { geo: { '192.0.2.10': { latitude: 52.52, longitude: 13.405 }, '192.0.2.20': { latitude: 31.23, longitude: 121.47 } } });
    const t = WORKDAY;
    const first = await engine.evaluate(input({ ip: '192.0.2.10', now: t }));
    expect(first.signals.map((s) => s.signal)).not.toContain('geo.impossible_travel');
    await engine.recordSuccessfulSignIn({ accountId: 'acct-1', deviceId: first.device.id, userAgent: FIREFOX, ip: '192.0.2.10', now: t });
    const second = await engine.evaluate(input({ ip: '192.0.2.20', deviceId: first.device.id, now: t + 30 * 60_000 }));
    expect(second.signals.map((s) => s.signal)).toEqual(['network.untrusted', 'geo.impossible_travel']);
    expect(second).toMatchObject({ level: 'high', action: 'deny' });
  });

  it('two evaluations at the same moment for one account agree and both are audited', async () => {
    const { engine, audit, input } = await setup(open);
    const [a, b] = await Promise.all([engine.evaluate(input()), engine.evaluate(input())]);
    expect(a.level).toBe(b.level);
    expect(audit.filter((event) => event.event === 'risk.evaluated')).toHaveLength(2);
  });
});

describe('risk engine switched off', () => {
  it('scores nothing but still honours locks and the access policy', async () => {
    const { MemoryStore } = await import('../../src/store/memory.js');
    const memory = new MemoryStore();
    const locks = new AccountLocks(memory);
    const engine = createRiskEngine({
      config: riskConfigSchema.parse({ enabled: false, networks: { blocked: ['203.0.113.0/24'] } }),
      clientRisk: () => clientRiskSchema.parse({ accessPolicy: { rules: [{ name: 'corp-only', source: { providers: ['corp'] }, action: 'allow' }] } }),
      store: memory,
      locks,
      sessions: new SessionRepository(memory, 60_000),
      terminate: async () => undefined,
      auditor: { record: () => undefined },
    });
    const input: RiskInput = { phase: 'sign-in', clientId: 'app', accountId: 'a', connectorId: 'corp', ip: '203.0.113.1', fromTrustedProxy: false };
    expect(await engine.evaluate(input)).toMatchObject({ score: 0, level: 'low', action: 'allow' });
    expect(await engine.evaluate({ ...input, connectorId: 'social' })).toMatchObject({ action: 'deny', reason: 'access_denied' });
    await locks.lock('a', 'admin');
    expect(await engine.evaluate(input)).toMatchObject({ action: 'deny', reason: 'account_locked' });
    await memory.close();
  });
});
