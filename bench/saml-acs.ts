// bench: SAML ACS responses/s per core and the server's event-loop delay (alone, at 50% and at saturation, with local OIDC
// logins alongside), Vestibule's connector vs samlify's own parseLoginResponse on the same signed responses, in child servers;
// with XSD on, also the same broker with XSD off through the same phases (its CPU per response, split main thread / other threads).
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { loginFlow, pool, runOpenLoop, runPool } from './lib/flow.js';
import { alternate, benchPasswordHash, count, medianOf, prepare, runScenario } from './lib/harness.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { writeBenchJwks } from './lib/settings.js';
import { median, percentile, ratio } from './lib/stats.js';
import { ServerChild } from './lib/child.js';
import { threadCpuMs } from './lib/cpu.js';
import type { SamlAcsReady } from './_saml-acs-server.js';
import { SP_CERT, SP_KEY, TestIdp } from '../test/helpers/upstream-saml.js';

const SERVER_MAIN = fileURLToPath(new URL('./_saml-acs-server.ts', import.meta.url));
/** SAML_SCHEMA=off measures without XSD validation (both sides); default: the connector's default, XSD on. */
const SCHEMA = process.env.SAML_SCHEMA !== 'off';
/** Responses per measured run (libxml2-wasm validates a signed Response in well under a millisecond). */
const RESPONSES = count(500);
const HALF_RESPONSES = count(250);
/**
 * Responses each server answers before the measured runs, whatever BENCH_SCALE: a dozen (count(40) at scale 0.3) left
 * the JIT and V8's tier-up of libxml2-wasm's code, one-time costs, inside the measured windows.
 */
const WARM_RESPONSES = 300;
/**
 * The same broker without XSD validation, measured alongside when XSD is on, through the same phases: when it ran the
 * saturated phase only, the XSD-on server's heap and replay cache grew through phases it skipped.
 */
const XSD_OFF = 'vestibule-xsd-off';
const CONCURRENCY = 8;
/** Local OIDC logins per second (authorize -> login form with argon2id -> code -> token) running alongside the SAML load. */
const LOGIN_RATE = 4;

/** The scenario's server: the harness's child process with this scenario's entry and IPC commands (eld-start, eld-stop). */
type AcsChild = ServerChild<SamlAcsReady>;
const ACS_ENTRY = { file: SERVER_MAIN, specEnv: 'SAML_ACS_SPEC' };

interface Signed {
  SAMLResponse: string;
  requestId: string;
}

/** Fresh signed Responses (each with its own request and assertion ID: the connector keeps a replay cache). */
async function signedResponses(idp: TestIdp, ready: SamlAcsReady, n: number): Promise<Signed[]> {
  const now = Date.now();
  const out: Signed[] = [];
  for (let i = 0; i < n; i++) {
    const requestId = `_${randomBytes(16).toString('hex')}`;
    const xml = await idp.responseXml(
      { now, inResponseTo: requestId, notOnOrAfter: now + 3_600_000, scdNotOnOrAfter: now + 3_600_000, attributes: { email: `user${i}@acme.test`, groups: ['staff'] } },
      ready.acsUrl,
      ready.spEntityId,
    );
    out.push({ SAMLResponse: Buffer.from(xml).toString('base64'), requestId });
  }
  return out;
}

async function postAcs(agent: Agent, server: AcsChild, signed: Signed): Promise<void> {
  const response = await request(`${server.url}/bench/acs`, {
    dispatcher: agent,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...signed }).toString(),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${server.name}: ACS answered ${response.statusCode} ${text.slice(0, 200)}`);
}

/** Local logins at LOGIN_RATE until `stop` resolves; returns their latencies (ms from the scheduled start). */
async function loginsAlongside(agent: Agent, server: AcsChild, stop: Promise<unknown>): Promise<number[]> {
  let running = true;
  void stop.then(() => (running = false));
  const latencies: Promise<number>[] = [];
  const start = performance.now();
  for (let i = 0; running; i++) {
    const due = start + (i * 1000) / LOGIN_RATE;
    const wait = due - performance.now();
    if (wait > 1) await Promise.race([new Promise((resolve) => setTimeout(resolve, wait)), stop]);
    if (!running) break;
    latencies.push(loginFlow(agent, { name: server.name, url: server.url }).then(() => performance.now() - due, failed));
  }
  return Promise.all(latencies);
}

/** Errors of requests started in the background (open loop) are kept and thrown after the run, never left unhandled. */
const failures: unknown[] = [];
function failed(error: unknown): number {
  failures.push(error);
  return Number.NaN;
}
function throwFailures(): void {
  if (failures.length > 0) throw new Error(`${failures.length} request(s) failed, first: ${String((failures[0] as Error).stack ?? failures[0])}`);
}

interface Delay {
  p50: number;
  p99: number;
  max: number;
}

await runScenario(async (harnessServers) => {
  const method = {
    ...prepare(),
    schemaValidation: SCHEMA,
    responsesPerRun: RESPONSES,
    responsesAtHalf: HALF_RESPONSES,
    warmUpResponses: WARM_RESPONSES,
    concurrency: CONCURRENCY,
    loginsPerSecondAlongside: LOGIN_RATE,
    response: 'samlify IdP, Assertion signed RSA-SHA256, not encrypted, one AttributeStatement',
    server: 'child process: real broker (local logins, memory store, info logs to /dev/null) + POST /bench/acs on the same event loop',
    eventLoopDelay: 'monitorEventLoopDelay (1 ms resolution) inside the server process, over the measured run',
  };
  const jwksFile = await writeBenchJwks();
  const passwordHash = await benchPasswordHash();
  const idpMetadataXml = TestIdp.metadata();
  const base = { schema: SCHEMA, jwksFile, passwordHash, idpMetadataXml, spKey: SP_KEY, spCert: SP_CERT };
  const children = [await ServerChild.start<SamlAcsReady>('vestibule', { ...base, acs: 'vestibule' }, 60_000, ACS_ENTRY), await ServerChild.start<SamlAcsReady>('samlify', { ...base, acs: 'samlify' }, 60_000, ACS_ENTRY)];
  if (SCHEMA) children.push(await ServerChild.start<SamlAcsReady>(XSD_OFF, { ...base, schema: false, acs: 'vestibule' }, 60_000, ACS_ENTRY));
  // runScenario stops what it is given (it only calls stop() and recentStderr()).
  harnessServers.push(...children);
  const idps = new Map(children.map((c) => [c.name, new TestIdp(c.ready.spMetadata)]));
  const agents = new Map(children.map((c) => [c.name, pool(CONCURRENCY + 4)]));
  const byName = new Map(children.map((c) => [c.name, c]));

  for (const child of children) {
    const agent = agents.get(child.name)!;
    const warm = await signedResponses(idps.get(child.name)!, child.ready, WARM_RESPONSES);
    await runPool(warm.length, CONCURRENCY, (i) => postAcs(agent, child, warm[i]!));
    await runPool(count(8, 4), 4, () => loginFlow(agent, { name: child.name, url: child.url }));
  }

  const samples = await alternate(children, async (server) => {
    const child = byName.get(server.name)!;
    const agent = agents.get(child.name)!;
    const idp = idps.get(child.name)!;

    // 1. Saturation, SAML alone: CPU per response and the saturated rate.
    let set = await signedResponses(idp, child.ready, RESPONSES);
    await child.ask('eld-start');
    const cpu0 = threadCpuMs(child.pid);
    const t0 = performance.now();
    await runPool(set.length, CONCURRENCY, (i) => postAcs(agent, child, set[i]!));
    const wallMs = performance.now() - t0;
    const cpu1 = threadCpuMs(child.pid);
    const cpuMs = cpu1.main + cpu1.others - cpu0.main - cpu0.others;
    const alone = await child.ask<Delay>('eld-stop');
    const saturated = (RESPONSES * 1000) / wallMs;
    const perCore = (RESPONSES * 1000) / cpuMs;
    const mainMsPerResponse = (cpu1.main - cpu0.main) / RESPONSES;
    const otherMsPerResponse = (cpu1.others - cpu0.others) / RESPONSES;

    // 2. Half of that rate, open loop, with logins alongside.
    set = await signedResponses(idp, child.ready, HALF_RESPONSES);
    await child.ask('eld-start');
    const half = runOpenLoop(set.length, saturated / 2, (i) => postAcs(agent, child, set[i]!).catch(failed));
    const halfLogins = await loginsAlongside(agent, child, half);
    const halfLatency = await half;
    const atHalf = await child.ask<Delay>('eld-stop');

    // 3. Saturation with logins alongside.
    set = await signedResponses(idp, child.ready, RESPONSES);
    await child.ask('eld-start');
    const full = runPool(set.length, CONCURRENCY, (i) => postAcs(agent, child, set[i]!));
    const fullLogins = await loginsAlongside(agent, child, full);
    await full;
    const atFull = await child.ask<Delay>('eld-stop');
    throwFailures();

    return {
      perCore,
      mainMsPerResponse,
      otherMsPerResponse,
      saturatedPerSec: saturated,
      aloneP99: alone.p99,
      halfP50: atHalf.p50,
      halfP99: atHalf.p99,
      halfAcsP99: percentile(halfLatency, 99),
      halfLoginP99: percentile(halfLogins.filter(Number.isFinite), 99),
      fullP50: atFull.p50,
      fullP99: atFull.p99,
      fullLoginP99: percentile(fullLogins.filter(Number.isFinite), 99),
    };
  });
  await Promise.all([...agents.values()].map((a) => a.close()));

  type Field = keyof NonNullable<ReturnType<typeof samples.get>>[number];
  const v = (field: Field) => medianOf(samples.get('vestibule'), field);
  const s = (field: Field) => medianOf(samples.get('samlify'), field);
  const rateRatio = ratio(v('perCore'), s('perCore'));
  const delayRow = (metric: string, field: Field, target?: string): BenchRow => ({
    metric,
    unit: 'ms',
    broker: v(field),
    peer: s(field),
    ratio: ratio(v(field), s(field)),
    ...(target ? { target, met: v(field) < 20 } : {}),
  });
  const perCoreMet = rateRatio !== null && rateRatio >= 0.9 && (!SCHEMA || v('perCore') >= 120);
  const rows: BenchRow[] = [
    { metric: 'ACS responses per CPU-second (server process, all threads)', unit: '/s/core', broker: v('perCore'), peer: s('perCore'), ratio: rateRatio, target: SCHEMA ? '>= 0.9x and >= 120/s/core' : '>= 0.9x', met: perCoreMet },
    { metric: 'ACS saturated rate (wall, server pinned to one core)', unit: '/s', broker: v('saturatedPerSec'), peer: s('saturatedPerSec'), ratio: ratio(v('saturatedPerSec'), s('saturatedPerSec')) },
    delayRow('event-loop delay p99, SAML alone at saturation', 'aloneP99'),
    delayRow(`event-loop delay p50, 50% of saturation + ${LOGIN_RATE} logins/s`, 'halfP50'),
    delayRow(`event-loop delay p99, 50% of saturation + ${LOGIN_RATE} logins/s`, 'halfP99', '< 20 ms'),
    delayRow(`event-loop delay p50, saturation + ${LOGIN_RATE} logins/s`, 'fullP50'),
    delayRow(`event-loop delay p99, saturation + ${LOGIN_RATE} logins/s`, 'fullP99', '< 20 ms'),
    delayRow('ACS latency p99 at 50% (open loop, from scheduled start)', 'halfAcsP99'),
    delayRow('login flow latency p99 alongside SAML at 50%', 'halfLoginP99'),
    delayRow('login flow latency p99 alongside SAML at saturation', 'fullLoginP99'),
  ];
  if (SCHEMA) {
    const on = 1000 / v('perCore');
    const off = 1000 / medianOf(samples.get(XSD_OFF), 'perCore');
    const xsdRatio = ratio(on, off);
    // broker = XSD on, peer = the same broker with XSD off (not samlify) in this row.
    rows.push({ metric: 'CPU per ACS response, XSD on (broker) vs the same broker with XSD off (peer column)', unit: 'ms', broker: on, peer: off, ratio: xsdRatio, target: '<= 1.3x', met: xsdRatio !== null && xsdRatio <= 1.3 });
    // Each repeat measures both servers (alternate, samlify's window between them): the median of the per-repeat ratios discounts the machine's drift across repeats.
    const offSamples = samples.get(XSD_OFF)!;
    const pairs = samples.get('vestibule')!.map((sample, i) => offSamples[i]!.perCore / sample.perCore);
    rows.push({ metric: '… the same, median of the per-repeat ratios (XSD on and off measured in the same repeat)', unit: 'x', broker: median(pairs), peer: null, ratio: null, note: `per repeat: ${pairs.map((r) => r.toFixed(2)).join(' ')}` });
    const xsdOff = (field: Field) => medianOf(samples.get(XSD_OFF), field);
    rows.push({ metric: '… of it on the main thread (HTTP, connector, replay cache), XSD on vs off', unit: 'ms', broker: v('mainMsPerResponse'), peer: xsdOff('mainMsPerResponse'), ratio: ratio(v('mainMsPerResponse'), xsdOff('mainMsPerResponse')) });
    rows.push({ metric: '… on the other threads (SAML workers: parse, signature, XSD; GC helpers), XSD on vs off', unit: 'ms', broker: v('otherMsPerResponse'), peer: xsdOff('otherMsPerResponse'), ratio: ratio(v('otherMsPerResponse'), xsdOff('otherMsPerResponse')) });
  }
  for (const row of rows) process.stderr.write(`  ${row.metric}: vestibule ${row.broker?.toFixed(1)} ${row.unit}, samlify ${row.peer?.toFixed(1) ?? "-"}${row.ratio !== null ? ` (${row.ratio.toFixed(2)}x)` : ''}\n`);
  emitResult({
    scenario: 'saml-acs',
    title: `SAML ACS${SCHEMA ? '' : ' (XSD validation off)'}`,
    peer: `samlify ${SCHEMA ? '+ the same libxml2-wasm XSD validator (inline) ' : ''}parseLoginResponse in the same kind of server`,
    rows,
    method,
  });
});
