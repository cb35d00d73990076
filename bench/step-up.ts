// Risk and step-up inside the whole sign-in, on Redis, in one run, every broker on a cheap password hash: CPU per local sign-in with risk evaluation against the same broker
// with risk.enabled false, and CPU per sign-in with a TOTP step-up (client requiring MFA: factor page, code, resumed authorization) against the same sign-in without it; each the median of per-round differences.
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
import { alternate, count, medianOf, prepare, REPEATS, runScenario } from './lib/harness.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { BENCH_CLIENT, BENCH_CLIENT_CONFIG, BENCH_USER, benchUser, USER_COUNT, writeBenchJwks } from './lib/settings.js';
import { median, ratio } from './lib/stats.js';

const CONCURRENCY = 4;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const VAULT_KEY = randomBytes(32).toString('base64url');
const RISK_TARGET_MS = 0.3;
const STEP_UP_TARGET_MS = 2;
/** Every broker verifies this bench-only argon2id hash (m=1 MiB, t=1): the production hash's ±10 ms spread would hide a 0.3 or 2 ms difference. */
const CHEAP_HASH = { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;
/** Interleaved rounds of each pair: the figure is a median of per-round differences. */
const ROUNDS = Math.max(10, 2 * REPEATS);
/**
 * Warm-up sign-ins per broker: with a cheap hash a sign-in is ~10 ms, and after 20 of them the CPU per sign-in still fell
 * by half over the rounds, after 150 by a third.
 */
const WARMUP = count(300, 20);
/** Sign-ins per round of the risk pair (users may repeat: no code is involved). */
const RISK_FLOWS = count(300);
/** Sign-ins per round of the step-up pair: every step-up sign-in uses another bench user, so each TOTP code is used once. */
const STEP_UP_FLOWS = Math.min(count(60), Math.floor((USER_COUNT - WARMUP) / ROUNDS));

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

/** One pair's rounds: CPU per sign-in of each side, and the median of the per-round differences (`broker` minus `peer`). */
interface PairFigures {
  broker: number;
  peer: number;
  difference: number;
  differences: number[];
  brokerRate: number;
  peerRate: number;
}

function pairFigures(samples: Map<string, Array<{ cpuMsPerFlow: number; flowsPerSec: number }>>, broker: ServerChild, peer: ServerChild): PairFigures {
  const [withIt, without] = [samples.get(broker.name)!, samples.get(peer.name)!];
  const differences = withIt.map((sample, round) => sample.cpuMsPerFlow - without[round]!.cpuMsPerFlow);
  return {
    broker: medianOf(withIt, 'cpuMsPerFlow'),
    peer: medianOf(without, 'cpuMsPerFlow'),
    difference: median(differences),
    differences,
    brokerRate: medianOf(withIt, 'flowsPerSec'),
    peerRate: medianOf(without, 'flowsPerSec'),
  };
}

const roundsNote = (pair: PairFigures) => `median of ${ROUNDS} interleaved rounds' differences (${pair.differences.map((d) => d.toFixed(2)).join(', ')})`;

await runScenario(async (servers) => {
  const method = {
    ...prepare(),
    rounds: ROUNDS,
    warmupFlows: WARMUP,
    riskFlowsPerRound: RISK_FLOWS,
    stepUpFlowsPerRound: STEP_UP_FLOWS,
    concurrency: CONCURRENCY,
    store: 'redis',
    passwordHash: 'argon2id m=1 MiB t=1 on every broker',
    note: 'each sign-in uses a new browser (a new device) and another of the 1,000 bench users; each step-up sign-in another user, so every code is used once; rounds alternate the order of each pair',
  };
  const jwksFile = await writeBenchJwks();
  const cheapHash = await argon2.hash(BENCH_USER.password, CHEAP_HASH);
  const prefix = (name: string) => `vbench:step-up:${process.pid}:${name}:`;
  const broker = (name: string, config: Record<string, unknown>) =>
    ServerChild.start(name, { kind: 'broker', jwksFile, passwordHash: cheapHash, store: { type: 'redis', url: REDIS_URL, prefix: prefix(name) }, config: { vaultKeys: [VAULT_KEY], ...config } });
  const secrets = await enrolEveryone(prefix('step-up'));
  const [riskOff, riskOn, plain, stepUp] = [
    await broker('risk-off', { risk: { enabled: false } }),
    await broker('risk-on', {}),
    await broker('no-step-up', {}),
    await broker('step-up', { clients: [{ ...BENCH_CLIENT_CONFIG, risk: { minAcr: ACR_MFA } }] }),
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
  // Each pair is warmed up right before its rounds (a broker left idle while the other pair ran came back costing a third
  // more per sign-in), then measured in rounds of its own (A, B; then B, A; ...): each difference is between neighbours in time.
  const rounds = async (pair: [ServerChild, ServerChild], flows: number) => {
    for (const server of pair) await runPool(WARMUP, CONCURRENCY, () => flow(server));
    return alternate(pair, measure(flows), ROUNDS);
  };
  const risk = pairFigures(await rounds([riskOff, riskOn], RISK_FLOWS), riskOn, riskOff);
  const step = pairFigures(await rounds([plain, stepUp], STEP_UP_FLOWS), stepUp, plain);
  await Promise.all([...agents.values()].map((a) => a.close()));

  const rows: BenchRow[] = [
    {
      metric: 'CPU per local sign-in with risk evaluation (Redis store), every broker a cheap argon2id hash (m=1 MiB, t=1)',
      unit: 'ms',
      broker: risk.broker,
      peer: risk.peer,
      ratio: ratio(risk.broker, risk.peer),
      note: `risk evaluation adds ${risk.difference.toFixed(2)} ms per sign-in: ${roundsNote(risk)}; the peer: the same broker with risk.enabled false, which still reads the locks`,
      target: `<= +${RISK_TARGET_MS} ms`,
      met: risk.difference <= RISK_TARGET_MS,
    },
    {
      metric: 'CPU per sign-in with a TOTP step-up (client requires MFA; factor page, code, resumed authorization), cheap hash',
      unit: 'ms',
      broker: step.broker,
      peer: step.peer,
      ratio: ratio(step.broker, step.peer),
      note: `the step-up adds ${step.difference.toFixed(2)} ms per sign-in: ${roundsNote(step)}; the peer: the same sign-in without a step-up, risk on`,
      target: `<= +${STEP_UP_TARGET_MS} ms`,
      met: step.difference <= STEP_UP_TARGET_MS,
    },
    {
      metric: `sign-ins/s at concurrency ${CONCURRENCY}, step-up vs none (cheap hash)`,
      unit: 'flows/s',
      broker: step.brokerRate,
      peer: step.peerRate,
      ratio: ratio(step.brokerRate, step.peerRate),
    },
  ];
  emitResult({ scenario: 'step-up', title: `Risk evaluation and TOTP step-up in the sign-in flow (each the median of ${ROUNDS} per-round differences)`, peer: 'the same broker without the risk evaluation / without the step-up, same run', rows, method });
});
