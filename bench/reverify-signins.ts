// Re-verification while sign-ins continue: local sign-ins at a fixed rate against the broker (own process, Redis), alternately alone, with the paced sweep re-verifying 112 sessions a second (100,000 per 15 minutes) against a 10 ms upstream, and with the same sweep unpaced (each second's checks at once, as before pacing); sign-in p99 of each, and the sweep's rate and CPU per re-verification.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { loginFlow, pool, runOpenLoop } from './lib/flow.js';
import { benchPasswordHash, count, prepare, REPEATS } from './lib/harness.js';
import { pinnedCommand, SERVER_CORE } from './lib/pin.js';
import { emitResult } from './lib/report.js';
import { writeBenchJwks } from './lib/settings.js';
import { median, percentile } from './lib/stats.js';

const RATE = Number(process.env.SIGNIN_RATE ?? 8);
/** Sign-ins per phase: 15 seconds' worth at RATE (scaled by BENCH_SCALE). */
const SIGNINS = count(RATE * 15, 20);
const SESSIONS = count(2000, 200);

function lines(child: ChildProcess): Interface {
  return createInterface({ input: child.stdout! });
}
const nextLine = <T>(reader: Interface, child: ChildProcess) =>
  new Promise<T>((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`child exited with ${code}`));
    child.once('exit', exited);
    reader.once('line', (line) => {
      child.off('exit', exited);
      resolve(JSON.parse(line) as T);
    });
  });

const method = prepare();
const upstreamChild = spawn(process.execPath, ['--import', 'tsx', 'bench/_reverify-upstream.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
const upstream = await nextLine<Record<string, string>>(lines(upstreamChild), upstreamChild);
// The broker on the server core; this process (the sign-ins) and the upstream on the load-generator core.
const [command, ...args] = pinnedCommand(SERVER_CORE, [process.execPath, '--import', 'tsx', 'bench/_reverify-broker.ts']);
const brokerChild = spawn(command!, args, {
  stdio: ['pipe', 'pipe', 'inherit'],
  env: { ...process.env, BENCH_UPSTREAM: JSON.stringify(upstream), BENCH_SESSIONS: String(SESSIONS), BENCH_JWKS: await writeBenchJwks(), BENCH_PASSWORD_HASH: await benchPasswordHash() },
});
// The children never outlive this process, even when a sign-in fails.
process.on('exit', () => {
  upstreamChild.kill();
  brokerChild.kill();
});
process.once('SIGTERM', () => process.exit(143));
const brokerLines = lines(brokerChild);
const { url } = await nextLine<{ url: string }>(brokerLines, brokerChild);
const target = { name: 'broker', url };
const agent = pool(16);

interface PhaseReport {
  checks: number;
  verified: number;
  /** Paced checks that started while requests were in flight (their latest start had come). */
  forced: number;
  cpuMs: number;
  wallMs: number;
}

/** Sign-ins at RATE for the phase while the broker sweeps (or idles); the sign-ins' latencies and the broker's report. */
async function phase(command: 'sweep' | 'burst' | 'idle'): Promise<{ latencies: number[]; report: PhaseReport }> {
  brokerChild.stdin!.write(`${command}\n`);
  const latencies = await runOpenLoop(SIGNINS, RATE, () => loginFlow(agent, target));
  // The broker's CPU of the whole phase: from the command until the last sign-in answered (and the sweep in progress ended).
  const reported = nextLine<PhaseReport>(brokerLines, brokerChild);
  brokerChild.stdin!.write('stop\n');
  return { latencies, report: await reported };
}

await runOpenLoop(count(40, 10), RATE, () => loginFlow(agent, target));
const alone: number[][] = [];
const swept: number[][] = [];
const burst: number[][] = [];
const idleCpu: number[] = [];
const sweepReports: PhaseReport[] = [];
const burstReports: PhaseReport[] = [];
const ORDERS = [['idle', 'sweep', 'burst'], ['burst', 'sweep', 'idle'], ['sweep', 'idle', 'burst']] as const;
for (let repeat = 0; repeat < REPEATS; repeat += 1) {
  // Rotate the order so drift (Redis growing, JIT warming, other load) does not favour one side.
  for (const command of ORDERS[repeat % ORDERS.length]!) {
    const { latencies, report } = await phase(command);
    if (command === 'idle') {
      alone.push(latencies);
      idleCpu.push(report.cpuMs);
    } else if (command === 'sweep') {
      swept.push(latencies);
      sweepReports.push(report);
    } else {
      burst.push(latencies);
      burstReports.push(report);
    }
  }
}
await agent.close();
brokerChild.stdin!.write('exit\n');
await new Promise((resolve) => brokerChild.once('exit', resolve));
upstreamChild.kill();

const p99Alone = median(alone.map((l) => percentile(l, 99)));
const p99Swept = median(swept.map((l) => percentile(l, 99)));
const p50Alone = median(alone.map((l) => percentile(l, 50)));
const p50Swept = median(swept.map((l) => percentile(l, 50)));
const p99Burst = median(burst.map((l) => percentile(l, 99)));
// The sweep's own CPU: the phase's CPU minus what the same sign-ins cost alone (the idle phase of the same repeat).
const sweepCpuMs = median(sweepReports.map((r, i) => (r.cpuMs - idleCpu[i]!) / r.checks));
const wallRate = median(sweepReports.map((r) => (r.checks * 1000) / r.wallMs));
const burstCpuMs = median(burstReports.map((r, i) => (r.cpuMs - idleCpu[i]!) / r.checks));
const burstWallRate = median(burstReports.map((r) => (r.checks * 1000) / r.wallMs));
const perCore = 1000 / sweepCpuMs;
const forcedShare = median(sweepReports.map((r) => r.forced / Math.max(1, r.checks)));
const ratioP99 = p99Swept / p99Alone;
emitResult({
  scenario: 'reverify-signins',
  title: 'Re-verification at 112 sessions/s while sign-ins continue (local sign-ins at a fixed rate; upstream with 10 ms latency; Redis)',
  rows: [
    { metric: 'sign-in latency p99, with sweeps vs alone', unit: 'ms', broker: Math.round(p99Swept), peer: Math.round(p99Alone), ratio: ratioP99, target: '<= 1.2x', met: ratioP99 <= 1.2 },
    { metric: 'sign-in latency p99, with unpaced sweeps (each second\'s checks at once) vs alone', unit: 'ms', broker: Math.round(p99Burst), peer: Math.round(p99Alone), ratio: p99Burst / p99Alone },
    { metric: 'sign-in latency p50, with sweeps vs alone', unit: 'ms', broker: Math.round(p50Swept), peer: Math.round(p50Alone), ratio: p50Swept / p50Alone },
    { metric: 're-verifications per broker CPU-second (sweep CPU beyond the sign-ins)', unit: '/s', broker: Math.round(perCore), peer: null, ratio: null, target: '>= 112/s per core', met: perCore >= 112 },
    { metric: 'broker CPU per re-verification', unit: 'ms', broker: Math.round(sweepCpuMs * 100) / 100, peer: null, ratio: null },
    { metric: 'paced checks started while requests were in flight (their latest start had come)', unit: '%', broker: Math.round(forcedShare * 1000) / 10, peer: null, ratio: null },
    { metric: 're-verifications per second (wall) during sign-ins', unit: '/s', broker: Math.round(wallRate), peer: null, ratio: null, target: '>= 112/s', met: wallRate >= 112 },
    { metric: 'unpaced sweep: broker CPU per re-verification', unit: 'ms', broker: Math.round(burstCpuMs * 100) / 100, peer: null, ratio: null },
    { metric: 'unpaced sweep: re-verifications per second (wall) during sign-ins', unit: '/s', broker: Math.round(burstWallRate), peer: null, ratio: null },
  ],
  method: { ...method, signinRatePerSec: RATE, signinsPerPhase: SIGNINS, sessions: SESSIONS, upstreamLatencyMs: Number(process.env.UPSTREAM_LATENCY_MS ?? 10), peer: 'the same sign-in load on the same broker process with the sweep idle (rotating phases: idle, paced sweep, unpaced sweep)', p99PerRepeatMs: { alone: alone.map((l) => Math.round(percentile(l, 99))), paced: swept.map((l) => Math.round(percentile(l, 99))), unpaced: burst.map((l) => Math.round(percentile(l, 99))) } },
});
