// Risk and step-up inside the whole sign-in, on Redis, in one run: CPU per local sign-in with risk evaluation against the same broker with risk.enabled false, and
// CPU per sign-in with a TOTP step-up (client requiring MFA: factor page, code, resumed authorization) against the same sign-in without it, both on a cheap password hash, median of per-round differences.
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { pino } from 'pino';
import type { Agent } from 'undici';
import { Secret, TOTP } from 'otpauth';
import { mfaConfigSchema } from '../src/config/mfa-schema.js';
import { accountIdFor } from '../src/connectors/claims.js';
import { ACR_MFA } from '../src/mfa/assurance.js';
import { createMfaFactors } from '../src/mfa/factors.js';
import { RedisStore } from '../src/store/redis.js';
import { ServerChild, measureCpu } from './lib/child.js';
import { authorizationRequest, Browser, formOf, pool, runPool, tokenRequest, type Target } from './lib/flow.js';
import { alternate, benchPasswordHash, count, medianOf, prepare, REPEATS, runScenario } from './lib/harness.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { BENCH_CLIENT, BENCH_CLIENT_CONFIG, BENCH_USER, benchUser, USER_COUNT, writeBenchJwks } from './lib/settings.js';
import { median, ratio } from './lib/stats.js';

const FLOWS = count(100);
const WARMUP = count(20, 5);
const CONCURRENCY = 4;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const VAULT_KEY = randomBytes(32).toString('base64url');
const RISK_TARGET_MS = 0.3;
const STEP_UP_TARGET_MS = 2;
/** The step-up pair verifies this bench-only argon2id hash on both sides (m=1 MiB, t=1): the production hash's ±10 ms spread would hide a 2 ms difference. */
const CHEAP_HASH = { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;
/** Interleaved rounds of the step-up pair: more than the risk rows', since the figure is a median of per-round differences. */
const STEP_UP_ROUNDS = Math.max(8, 2 * REPEATS);
/** Warm-up of the step-up pair: with a cheap hash a sign-in is ~10 ms, and 20 of them left the CPU per sign-in falling by half over the rounds. */
const STEP_UP_WARMUP = count(150, 20);
/** Sign-ins per round of the step-up pair: every step-up sign-in uses another bench user, so each TOTP code is used once. */
const STEP_UP_FLOWS = Math.min(count(60), Math.floor((USER_COUNT - STEP_UP_WARMUP) / STEP_UP_ROUNDS));

/** One sign-in of `username` in a new browser; with `totpSecret`, the factor page is answered with the current code. */
async function signIn(agent: Agent, target: Target, username: string, totpSecret?: string): Promise<void> {
  const browser = new Browser(agent);
  const { params, verifier, state } = authorizationRequest();
  let page = await browser.follow(`${target.url}/auth?${params}`);
  const login = formOf(page.body, page.url, '/login');
  if (!login) throw new Error(`${target.name}: no login form at ${page.url} (${page.status})`);
  page = await browser.follow(login.action, 'POST', { ...login.fields, username, password: BENCH_USER.password });
  if (totpSecret) {
    const factor = formOf(page.body, page.url, '/mfa/totp');
    if (!factor) throw new Error(`${target.name}: no factor page at ${page.url} (${page.status}): ${page.body.slice(0, 200)}`);
    const code = new TOTP({ secret: Secret.fromBase32(totpSecret), digits: 6, period: 30, algorithm: 'SHA1' }).generate();
    page = await browser.follow(factor.action, 'POST', { ...factor.fields, code });
  }
  const callback = new URL(page.location ?? 'about:blank');
  if (!callback.searchParams.get('code') || callback.searchParams.get('state') !== state) throw new Error(`${target.name}: no code (${page.url} ${page.status}): ${page.body.slice(0, 200)}`);
  await tokenRequest(agent, target, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: BENCH_CLIENT.redirectUri, code_verifier: verifier });
}

/** Enrols a TOTP factor for every bench user in the step-up broker's store (its prefix, its vault key); answers the secrets. */
async function enrolEveryone(prefix: string): Promise<string[]> {
  const store = new RedisStore({ connection: { url: REDIS_URL }, prefix, logger: pino({ level: 'silent' }) });
  await store.ready(5000);
  const factors = createMfaFactors({ store, vaultKeys: [VAULT_KEY], issuer: 'http://127.0.0.1', productName: 'Bench', config: mfaConfigSchema.parse({}) });
  const secrets: string[] = [];
  for (let i = 0; i < USER_COUNT; i++) {
    const subject = { accountId: accountIdFor('local', benchUser(i).username), interactionId: 'bench' };
    const { secret } = await factors.totp.startEnrolment(subject);
    // The previous step's code: the current step stays free for the sign-in (once more if a step boundary passed meanwhile).
    const previousCode = () => new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: Date.now() - 30_000 });
    let enrolled = await factors.totp.finishEnrolment(subject, { code: previousCode() });
    if (!enrolled.ok && enrolled.reason === 'invalid') enrolled = await factors.totp.finishEnrolment(subject, { code: previousCode() });
    if (!enrolled.ok) throw new Error(`bench enrolment failed: ${enrolled.reason}`);
    secrets.push(secret);
  }
  await store.close();
  return secrets;
}

await runScenario(async (servers) => {
  const method = {
    ...prepare(),
    flowsPerRun: FLOWS,
    warmupFlows: WARMUP,
    concurrency: CONCURRENCY,
    store: 'redis',
    stepUpPair: { rounds: STEP_UP_ROUNDS, flowsPerRound: STEP_UP_FLOWS, warmupFlows: STEP_UP_WARMUP, passwordHash: 'argon2id m=1 MiB t=1 on both sides' },
    note: 'each sign-in uses a new browser (a new device) and another of the 1,000 bench users; each step-up sign-in another user, so every code is used once',
  };
  const jwksFile = await writeBenchJwks();
  const passwordHash = await benchPasswordHash();
  const cheapHash = await argon2.hash(BENCH_USER.password, CHEAP_HASH);
  const prefix = (name: string) => `vbench:step-up:${process.pid}:${name}:`;
  const broker = (name: string, config: Record<string, unknown>, hash = passwordHash) =>
    ServerChild.start(name, { kind: 'broker', jwksFile, passwordHash: hash, store: { type: 'redis', url: REDIS_URL, prefix: prefix(name) }, config: { vaultKeys: [VAULT_KEY], ...config } });
  const secrets = await enrolEveryone(prefix('step-up'));
  const [riskOff, riskOn, plain, stepUp] = [
    await broker('risk-off', { risk: { enabled: false } }),
    await broker('risk-on', {}),
    await broker('no-step-up', {}, cheapHash),
    await broker('step-up', { clients: [{ ...BENCH_CLIENT_CONFIG, risk: { minAcr: ACR_MFA } }] }, cheapHash),
  ];
  servers.push(riskOff, riskOn, plain, stepUp);
  const agents = new Map(servers.map((s) => [s.name, pool(CONCURRENCY)]));
  // Each server walks the users in its own order; the step-up server's walk never wraps (STEP_UP_FLOWS), so no code is used twice.
  const nextUser = new Map(servers.map((s) => [s.name, 0]));
  const flow = (server: ServerChild) => {
    const index = nextUser.get(server.name)!;
    nextUser.set(server.name, (index + 1) % USER_COUNT);
    return signIn(agents.get(server.name)!, { name: server.name, url: server.url }, benchUser(index).username, server === stepUp ? secrets[index] : undefined);
  };
  const measure = (flows: number) => async (server: ServerChild) => {
    const { cpuMs, wallMs } = await measureCpu(server, () => runPool(flows, CONCURRENCY, () => flow(server)));
    return { cpuMsPerFlow: cpuMs / flows, flowsPerSec: (flows * 1000) / wallMs };
  };
  for (const server of servers) await runPool(server === plain || server === stepUp ? STEP_UP_WARMUP : WARMUP, CONCURRENCY, () => flow(server));
  const samples = await alternate([riskOff, riskOn], measure(FLOWS));
  // The step-up pair in rounds of its own (no-step-up, step-up; then step-up, no-step-up; ...): each round's difference is taken between neighbours in time.
  const pairSamples = await alternate([plain, stepUp], measure(STEP_UP_FLOWS), STEP_UP_ROUNDS);
  await Promise.all([...agents.values()].map((a) => a.close()));

  const cpu = (name: string) => medianOf(samples.get(name), 'cpuMsPerFlow');
  const [off, on] = [cpu('risk-off'), cpu('risk-on')];
  const riskMs = on - off;
  const withStepUp = pairSamples.get(stepUp.name)!;
  const without = pairSamples.get(plain.name)!;
  const differences = withStepUp.map((sample, round) => sample.cpuMsPerFlow - without[round]!.cpuMsPerFlow);
  const stepUpMs = median(differences);
  const rows: BenchRow[] = [
    {
      metric: 'CPU per local sign-in with risk evaluation (Redis store)',
      unit: 'ms',
      broker: on,
      peer: off,
      ratio: ratio(on, off),
      note: `risk evaluation adds ${riskMs.toFixed(2)} ms per sign-in (the peer: the same broker with risk.enabled false, which still reads the locks)`,
      target: `<= +${RISK_TARGET_MS} ms`,
      met: riskMs <= RISK_TARGET_MS,
    },
    {
      metric: 'CPU per sign-in with a TOTP step-up (client requires MFA; factor page, code, resumed authorization), both sides a cheap argon2id hash (m=1 MiB, t=1)',
      unit: 'ms',
      broker: medianOf(withStepUp, 'cpuMsPerFlow'),
      peer: medianOf(without, 'cpuMsPerFlow'),
      ratio: ratio(medianOf(withStepUp, 'cpuMsPerFlow'), medianOf(without, 'cpuMsPerFlow')),
      note: `the step-up adds ${stepUpMs.toFixed(2)} ms per sign-in: median of ${STEP_UP_ROUNDS} interleaved rounds' differences (${differences.map((d) => d.toFixed(1)).join(', ')}); the peer: the same sign-in without a step-up, risk on, same hash`,
      target: `<= +${STEP_UP_TARGET_MS} ms`,
      met: stepUpMs <= STEP_UP_TARGET_MS,
    },
    {
      metric: `sign-ins/s at concurrency ${CONCURRENCY}, step-up vs none (cheap hash)`,
      unit: 'flows/s',
      broker: medianOf(withStepUp, 'flowsPerSec'),
      peer: medianOf(without, 'flowsPerSec'),
      ratio: ratio(medianOf(withStepUp, 'flowsPerSec'), medianOf(without, 'flowsPerSec')),
    },
  ];
  emitResult({ scenario: 'step-up', title: `Risk evaluation (median of ${REPEATS}) and TOTP step-up (median of ${STEP_UP_ROUNDS} per-round differences) in the sign-in flow`, peer: 'the same broker without the risk evaluation / without the step-up, same run', rows, method });
});
