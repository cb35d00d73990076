// CPU per second-factor verification in process (TOTP, recovery code, WebAuthn assertion) on the memory store and on Redis,
// against the argon2id password check every local sign-in already makes, measured in the same run.
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { pino } from 'pino';
import { Secret, TOTP } from 'otpauth';
import { mfaConfigSchema } from '../src/config/mfa-schema.js';
import { createMfaFactors, type MfaFactors } from '../src/mfa/factors.js';
import { MemoryStore } from '../src/store/memory.js';
import { RedisStore } from '../src/store/redis.js';
import type { KeyValueStore } from '../src/store/store.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../test/helpers/webauthn-authenticator.js';
import { benchPasswordHash, count, prepare, REPEATS, runScenario } from './lib/harness.js';
import { RedisCpu } from './lib/redis-cpu.js';
import { emitResult } from './lib/report.js';
import { BENCH_USER } from './lib/settings.js';
import { median, ratio } from './lib/stats.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ISSUER = 'https://broker.bench.test';
const ACCOUNTS = 200;
const MEMORY_OPS = count(3000, 100);
const REDIS_OPS = count(1000, 50);
const PASSWORD_CHECKS = count(40, 5);
const T0 = Date.UTC(2026, 0, 1);
const STEP_MS = 30_000;

interface Bench {
  mfa: MfaFactors;
  clock: { now: number };
  secrets: string[];
  recoveryCodes: string[][];
  authenticators: SoftwareAuthenticator[];
  /** Verifications done so far: each TOTP verification uses the next time step, each recovery verification the next code. */
  totpDone: number;
  recoveryDone: number;
}

const subject = (i: number) => ({ accountId: `local:bench${i}`, interactionId: `uid-${i}` });

async function setUp(store: KeyValueStore): Promise<Bench> {
  const clock = { now: T0 };
  const config = mfaConfigSchema.parse({ maxFailedAttempts: 100, recovery: { codeCount: 20 } });
  const mfa = createMfaFactors({ store, vaultKeys: [randomBytes(32)], issuer: ISSUER, productName: 'Vestibule', config, now: () => clock.now });
  const bench: Bench = { mfa, clock, secrets: [], recoveryCodes: [], authenticators: [], totpDone: 0, recoveryDone: 0 };
  for (let i = 0; i < ACCOUNTS; i++) {
    const { secret } = await mfa.totp.startEnrolment(subject(i));
    await mfa.totp.finishEnrolment(subject(i), { code: code(secret, clock.now) });
    bench.secrets.push(secret);
    bench.recoveryCodes.push((await mfa.recovery.startEnrolment(subject(i))).codes);
    await mfa.recovery.finishEnrolment(subject(i));
    const authenticator = createSoftwareAuthenticator({ origin: ISSUER });
    await mfa.webauthn.finishEnrolment(subject(i), { response: authenticator.register(await mfa.webauthn.startEnrolment(subject(i))) });
    bench.authenticators.push(authenticator);
  }
  return bench;
}

const code = (secret: string, timestamp: number) => TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp });

const cpuMs = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

/** CPU ms per TOTP verification: codes (the phone's work) are computed before the clock starts. */
async function perTotp(bench: Bench, ops: number): Promise<number> {
  const work = Array.from({ length: ops }, (_, k) => {
    const n = bench.totpDone + k + 1;
    const account = n % ACCOUNTS;
    const at = T0 + n * STEP_MS;
    return { account, at, code: code(bench.secrets[account]!, at) };
  });
  bench.totpDone += ops;
  const start = process.cpuUsage();
  for (const { account, at, code: answer } of work) {
    bench.clock.now = at;
    const result = await bench.mfa.totp.finishVerification(subject(account), { code: answer });
    if (!result.ok) throw new Error(`TOTP refused: ${result.reason}`);
  }
  return cpuMs(start) / ops;
}

/** CPU ms per recovery-code verification. */
async function perRecovery(bench: Bench, ops: number): Promise<number> {
  const start = process.cpuUsage();
  for (let k = 0; k < ops; k++) {
    const n = bench.recoveryDone++;
    const account = n % ACCOUNTS;
    const result = await bench.mfa.recovery.finishVerification(subject(account), { code: bench.recoveryCodes[account]![Math.floor(n / ACCOUNTS) % 20]! });
    if (!result.ok) throw new Error(`recovery code refused: ${result.reason}`);
  }
  return cpuMs(start) / ops;
}

/** CPU ms per WebAuthn step-up on the broker's side (options with a stored challenge, then the verified assertion); the authenticator's signing is not counted. */
async function perWebAuthn(bench: Bench, ops: number): Promise<number> {
  let total = 0;
  for (let k = 0; k < ops; k++) {
    const account = k % ACCOUNTS;
    let start = process.cpuUsage();
    const request = await bench.mfa.webauthn.startVerification(subject(account));
    total += cpuMs(start);
    const response = bench.authenticators[account]!.assert(request);
    start = process.cpuUsage();
    const result = await bench.mfa.webauthn.finishVerification(subject(account), { response });
    total += cpuMs(start);
    if (!result.ok) throw new Error(`assertion refused: ${result.reason}`);
  }
  return total / ops;
}

/** CPU ms per argon2id password verification with the local connector's parameters (the peer: every local sign-in makes one). */
async function perPassword(hash: string, ops: number): Promise<number> {
  const start = process.cpuUsage();
  for (let k = 0; k < ops; k++) if (!(await argon2.verify(hash, BENCH_USER.password))) throw new Error('password refused');
  return cpuMs(start) / ops;
}

await runScenario(async () => {
  const method = { ...prepare(), accounts: ACCOUNTS, memoryOps: MEMORY_OPS, redisOps: REDIS_OPS, passwordChecks: PASSWORD_CHECKS, measured: 'process.cpuUsage of this process, sequential calls' };
  const prefix = `vbench:mfa:${process.pid}:`;
  const memory = new MemoryStore();
  const redis = new RedisStore({ connection: { url: REDIS_URL }, prefix, logger: pino({ level: 'silent' }) });
  await redis.ready(5000);
  const redisCpu = new RedisCpu(REDIS_URL);
  try {
    const hash = await benchPasswordHash();
    const benches = { memory: await setUp(memory), redis: await setUp(redis) };
    // Warm-up.
    for (const bench of Object.values(benches)) {
      await perTotp(bench, 50);
      await perWebAuthn(bench, 20);
    }
    await perPassword(hash, 3);
    const samples = { totpMemory: [] as number[], totpRedis: [] as number[], recoveryMemory: [] as number[], recoveryRedis: [] as number[], webauthnMemory: [] as number[], webauthnRedis: [] as number[], password: [] as number[] };
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      if (repeat % 2 === 1) samples.password.push(await perPassword(hash, PASSWORD_CHECKS));
      samples.totpMemory.push(await perTotp(benches.memory, MEMORY_OPS));
      samples.totpRedis.push(await perTotp(benches.redis, REDIS_OPS));
      samples.recoveryMemory.push(await perRecovery(benches.memory, Math.min(MEMORY_OPS, Math.floor((ACCOUNTS * 20) / REPEATS))));
      samples.recoveryRedis.push(await perRecovery(benches.redis, Math.min(REDIS_OPS, Math.floor((ACCOUNTS * 20) / REPEATS))));
      samples.webauthnMemory.push(await perWebAuthn(benches.memory, MEMORY_OPS));
      samples.webauthnRedis.push(await perWebAuthn(benches.redis, REDIS_OPS));
      if (repeat % 2 === 0) samples.password.push(await perPassword(hash, PASSWORD_CHECKS));
    }
    const m = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)])) as Record<keyof typeof samples, number>;
    process.stderr.write(`  ${Object.entries(m).map(([name, value]) => `${name}=${(value * 1000).toFixed(1)} µs`).join(' ')}\n`);
    const row = (metric: string, value: number) => ({ metric, unit: 'ms', broker: value, peer: m.password, ratio: ratio(value, m.password) });
    emitResult({
      scenario: 'mfa-factors',
      title: 'Second factors: CPU per verification in process (TOTP, recovery code, WebAuthn options + assertion)',
      peer: 'the argon2id password verification of a local sign-in (m=19456 KiB, t=2, p=1), same process, same run',
      rows: [
        row('TOTP verification, memory store', m.totpMemory),
        row('TOTP verification, Redis store (broker process only)', m.totpRedis),
        row('recovery code, memory store', m.recoveryMemory),
        row('recovery code, Redis store (broker process only)', m.recoveryRedis),
        row('WebAuthn step-up (options + assertion), memory store', m.webauthnMemory),
        row('WebAuthn step-up (options + assertion), Redis store (broker process only)', m.webauthnRedis),
      ],
      method,
    });
  } finally {
    await redisCpu.flushPrefix(prefix).catch(() => undefined);
    await redisCpu.close();
    await redis.close();
    await memory.close();
  }
});
