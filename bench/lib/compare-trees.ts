// Before/after CPU of one flow: a broker from another checkout (a git worktree of the older commit) and one from this tree, side by side, in interleaved rounds.
// Usage: AB_OLD=<worktree> npx tsx bench/lib/compare-trees.ts <federated|refresh> [rounds]   (AB_REDIS=1: both on Redis; the worktree needs node_modules, e.g. a symlink)
// Prints the median CPU per operation of each and the median of the per-round ratios new/old: single runs of a scenario drift by more than a 10 % change.
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startUpstreamOp } from '../../src/demo/upstream-oidc.js';
import { freeLoopbackPort } from '../../test/helpers/upstream-oidc.js';
import { ServerChild, measureCpu } from './child.js';
import { federatedFlow } from './federated-flow.js';
import { loginFlow, pool, refresh, runPool, type Target } from './flow.js';
import { alternate, benchPasswordHash } from './harness.js';
import { writeBenchJwks } from './settings.js';
import type { ServerSpec } from './spec.js';
import { median } from './stats.js';

const [flowName, roundsArg] = process.argv.slice(2);
const oldTree = process.env.AB_OLD;
if (!oldTree || (flowName !== 'federated' && flowName !== 'refresh')) {
  process.stderr.write('usage: AB_OLD=<worktree of the older commit> npx tsx bench/lib/compare-trees.ts <federated|refresh> [rounds]\n');
  process.exit(2);
}
const ROUNDS = Number(roundsArg ?? 10);
const WARMUP = 200;
/** Federated sign-ins per round; refresh chains and depth per round. */
const FLOWS = 120;
const CHAINS = 32;
const DEPTH = 40;
const UPSTREAM_USER = { username: 'ab-user', password: 'ab-user-password' };

const OldChild = ((await import(pathToFileURL(join(resolve(oldTree), 'bench/lib/child.ts')).href)) as { ServerChild: typeof ServerChild }).ServerChild;
const jwksFile = await writeBenchJwks();
const passwordHash = await benchPasswordHash();
type BrokerSpec = Extract<ServerSpec, { kind: 'broker' }>;
const store = (name: string): BrokerSpec['store'] => (process.env.AB_REDIS ? { type: 'redis', url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: `vbench:ab:${process.pid}:${name}:` } : { type: 'memory' });

const upstreamPort = await freeLoopbackPort();
const clientSecret = randomBytes(24).toString('base64url');
const providers = flowName === 'federated'
  ? [{ id: 'up', type: 'oidc', name: 'Upstream', config: { issuer: `http://127.0.0.1:${upstreamPort}`, clientId: 'ab-broker', clientSecret, allowInsecureRequests: true, scopes: ['openid', 'email', 'profile', 'groups'] } }]
  : undefined;
const spec = (name: string): BrokerSpec => ({ kind: 'broker', jwksFile, passwordHash, store: store(name), ...(providers ? { providers } : {}) });
const servers = [await OldChild.start('old', spec('old')), await ServerChild.start('new', spec('new'))];
const upstream = providers
  ? await startUpstreamOp({
      port: upstreamPort,
      clients: [{ client_id: 'ab-broker', client_secret: clientSecret, redirect_uris: servers.map((s) => `${s.url}/callback/up`), grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }],
      users: [{ ...UPSTREAM_USER, sub: 'ab-user-sub', email: 'ab@example.org', name: 'AB User', groups: ['staff'] }],
    })
  : undefined;
try {
  const agents = new Map(servers.map((s) => [s.name, pool(CHAINS)]));
  const target = (s: ServerChild): Target => ({ name: s.name, url: s.url });
  const newChains = async (s: ServerChild) => (await Promise.all(Array.from({ length: CHAINS }, () => loginFlow(agents.get(s.name)!, target(s), { offline: true })))).map((t) => t.refresh_token!);
  const advance = (s: ServerChild, chains: string[], depth: number) =>
    runPool(chains.length, chains.length, async (c) => {
      for (let i = 0; i < depth; i++) chains[c] = (await refresh(agents.get(s.name)!, target(s), chains[c]!)).refresh_token!;
    });
  /** One round's window on a server: CPU ms and the operations it ran. */
  const window = async (s: ServerChild): Promise<{ cpuMsPerOp: number }> => {
    if (flowName === 'federated') {
      const { cpuMs } = await measureCpu(s, () => runPool(FLOWS, 4, () => federatedFlow(agents.get(s.name)!, s.url, 'up', UPSTREAM_USER)));
      return { cpuMsPerOp: cpuMs / FLOWS };
    }
    const chains = await newChains(s);
    const { cpuMs } = await measureCpu(s, () => advance(s, chains, DEPTH));
    return { cpuMsPerOp: cpuMs / (CHAINS * DEPTH) };
  };
  for (const s of servers) {
    if (flowName === 'federated') await runPool(WARMUP, 4, () => federatedFlow(agents.get(s.name)!, s.url, 'up', UPSTREAM_USER));
    else await advance(s, await newChains(s), Math.ceil(WARMUP / CHAINS) * 10);
  }
  const samples = await alternate(servers, window, ROUNDS);
  const [before, after] = [samples.get('old')!.map((x) => x.cpuMsPerOp), samples.get('new')!.map((x) => x.cpuMsPerOp)];
  const ratios = after.map((x, i) => x / before[i]!);
  process.stdout.write(`${JSON.stringify({ flow: flowName, store: process.env.AB_REDIS ? 'redis' : 'memory', rounds: ROUNDS, oldCpuMs: median(before), newCpuMs: median(after), newOverOld: median(ratios), perRound: ratios.map((r) => Number(r.toFixed(3))) })}\n`);
  await Promise.all([...agents.values()].map((a) => a.close()));
} finally {
  await upstream?.close();
  await Promise.all(servers.map((s) => s.stop()));
}
