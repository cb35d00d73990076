// `npm run bench [-- name ...]`: runs every bench/*.ts scenario (or the named ones) one after another, collects their result
// lines (bench/lib/report.ts format), prints one table and writes bench/results/latest.json with the machine description.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { canPin, LOADGEN_CORE, pinnedCommand } from './lib/pin.js';
import { formatTable, parseResultLine, type BenchResult } from './lib/report.js';
import { hasWrk } from './lib/http-load.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(BENCH_DIR, 'results', 'latest.json');
/** Scenario order of the issue's table; files not listed run afterwards, alphabetically. */
const ORDER = ['local-login', 'refresh-rate', 'endpoints', 'federated-oidc', 'saml-acs', 'latency', 'memory', 'store-bytes'];
/** Run only when named: the 30-minute soak. */
const ON_DEMAND = ['soak'];
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 30 * 60_000);

type StoredResult = BenchResult & { ranAt: string; seconds: number };

function scenarios(filter: string[]): string[] {
  const all = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && f !== 'run-all.ts' && !f.startsWith('_'))
    .map((f) => basename(f, '.ts'));
  const rank = (name: string) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
  const sorted = all.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const unknown = filter.filter((name) => !all.includes(name));
  if (unknown.length) throw new Error(`no scenario named ${unknown.join(', ')} (have: ${sorted.join(', ')})`);
  return filter.length ? sorted.filter((name) => filter.includes(name)) : sorted.filter((name) => !ON_DEMAND.includes(name));
}

/** Runs one scenario pinned to the load-generator core; passes its output through and returns its result lines. */
function runScenario(name: string): Promise<{ results: BenchResult[]; code: number | null; seconds: number }> {
  const t0 = Date.now();
  const [command, ...args] = pinnedCommand(LOADGEN_CORE, [process.execPath, '--import', 'tsx', join(BENCH_DIR, `${name}.ts`)]);
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  const results: BenchResult[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const result = parseResultLine(line);
    if (result) results.push(result);
    else process.stdout.write(`  ${line}\n`);
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), TIMEOUT_MS);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ results, code, seconds: Math.round((Date.now() - t0) / 1000) });
    }),
  );
}

function commandOutput(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

async function machine() {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model,
    cores: cpu.length,
    memGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    redis: commandOutput('redis-server', ['--version'])?.replace(/^Redis server /, ''),
    pinning: canPin() ? 'taskset: servers on core 0, load generator on core 1' : 'none (taskset missing or one core)',
    wrk: (await hasWrk()) ? (commandOutput('wrk', ['--version']) ?? 'wrk') : 'not installed (autocannon used)',
    virtualized: /hypervisor/.test(commandOutput('grep', ['-m1', '-o', 'hypervisor', '/proc/cpuinfo']) ?? ''),
    loadavgAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

const filter = process.argv.slice(2);
const names = scenarios(filter);
const machineInfo = await machine();
process.stdout.write(`Vestibule benchmarks: ${names.join(', ')}\n${JSON.stringify(machineInfo)}\n`);
const previous = filter.length && existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as { results?: StoredResult[] }).results ?? [] : [];
const collected: StoredResult[] = [];
const failures: { scenario: string; exitCode: number | null }[] = [];
for (const name of names) {
  process.stdout.write(`\n== ${name}\n`);
  const { results, code, seconds } = await runScenario(name);
  const ranAt = new Date().toISOString();
  collected.push(...results.map((result) => ({ ...result, ranAt, seconds })));
  if (code !== 0) failures.push({ scenario: name, exitCode: code });
  if (results.length === 0) process.stdout.write(`  (${name} printed no result line; see bench/README.md for the format)\n`);
}
const ran = new Set(collected.map((r) => r.scenario));
const results = [...previous.filter((r) => !ran.has(r.scenario)), ...collected].sort((a, b) => {
  const rank = (s: string) => (ORDER.includes(s) ? ORDER.indexOf(s) : ORDER.length);
  return rank(a.scenario) - rank(b.scenario);
});
process.stdout.write(`\n${formatTable(results)}\n`);
if (failures.length) process.stdout.write(`\nFailed: ${failures.map((f) => `${f.scenario} (exit ${f.exitCode})`).join(', ')}\n`);
mkdirSync(dirname(RESULTS), { recursive: true });
const commit = commandOutput('git', ['-C', BENCH_DIR, 'rev-parse', '--short', 'HEAD']);
writeFileSync(RESULTS, `${JSON.stringify({ generatedAt: new Date().toISOString(), commit, machine: { ...machineInfo, loadavgAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) }, results, failures }, null, 2)}\n`);
process.stdout.write(`\nWrote ${RESULTS}\n`);
if (failures.length) process.exitCode = 1;
