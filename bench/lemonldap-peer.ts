// bench: a real IdP as the peer: CPU per SSO code flow with a live session (authorize -> code -> token) and per refresh grant,
// the broker (ES256 and RS256 clients) vs LemonLDAP::NG's portal under plackup, in the same run; skipped when LL::NG is not installed.
import { createServer } from 'node:net';
import { Agent } from 'undici';
import { ServerChild } from './lib/child.js';
import { authorizationRequest, Browser, formOf, loginFlow, pool, runPool, tokenRequest, type TokenResponse } from './lib/flow.js';
import { benchPasswordHash, count, prepare, REPEATS, runScenario } from './lib/harness.js';
import { LEMONLDAP_DEMO_USERS, LEMONLDAP_PACKAGES, LemonLdapPortal, lemonldapMissing, lemonldapVersion } from './lib/lemonldap.js';
import { emitResult, type BenchRow } from './lib/report.js';
import { BENCH_CLIENT, BENCH_CLIENT_CONFIG, benchUser, writeBenchJwks } from './lib/settings.js';
import { median, ratio } from './lib/stats.js';

/** Concurrent browsers, each with its own live SSO session. */
const BROWSERS = 4;
const SSO_FLOWS = count(400, 40);
const REFRESH_CHAINS = 8;
const REFRESHES = count(800, 80);
const WARMUP = count(40, 8);
/** "At least 3x less CPU than LemonLDAP::NG". */
const TARGET = 1 / 3;

/** One server under test: how to reach its endpoints, sign a browser in, and read its CPU. */
interface Peer {
  name: string;
  url: string;
  authorizePath: string;
  tokenPath: string;
  cpuMs(): number;
  /** Signs a new browser in (its live session) and returns a refresh token for a refresh chain. */
  signIn(browser: Browser, index: number): Promise<string>;
}

function brokerPeer(child: ServerChild, agent: Agent): Peer {
  return {
    name: child.name,
    url: child.url,
    authorizePath: '/auth',
    tokenPath: '/token',
    cpuMs: () => child.cpuMs(),
    // offline_access: the broker issues refresh tokens for it (with prompt=consent); the browser keeps its session either way.
    signIn: async (browser, index) => (await loginFlow(agent, { name: child.name, url: child.url }, { browser, offline: true, username: benchUser(index).username })).refresh_token!,
  };
}

function lemonldapPeer(portal: LemonLdapPortal, agent: Agent): Peer {
  const peer: Peer = {
    name: 'lemonldap-ng',
    url: portal.url,
    authorizePath: '/oauth2/authorize',
    tokenPath: '/oauth2/token',
    cpuMs: () => portal.cpuMs(),
    signIn: async (browser, index) => {
      // The portal answers /oauth2/authorize with its login form (action "#": the same URL), then redirects with a code.
      const user = LEMONLDAP_DEMO_USERS[index % LEMONLDAP_DEMO_USERS.length]!;
      const { params, verifier, state } = authorizationRequest();
      const page = await browser.follow(`${portal.url}${peer.authorizePath}?${params}`);
      const form = formOf(page.body, page.url, '#');
      if (!form) throw new Error(`lemonldap-ng: no login form at ${page.url} (${page.status}): ${page.body.slice(0, 300)}`);
      const { checkLogins: _history, ...fields } = form.fields;
      const answer = await browser.follow(page.url, 'POST', { ...fields, user, password: user });
      const tokens = await exchange(agent, peer, answer.location, state, verifier);
      if (!tokens.refresh_token) throw new Error('lemonldap-ng: no refresh_token (oidcRPMetaDataOptionsRefreshToken)');
      return tokens.refresh_token;
    },
  };
  return peer;
}

async function exchange(agent: Agent, peer: Peer, location: string | undefined, state: string, verifier: string): Promise<TokenResponse> {
  const callback = new URL(location ?? 'about:blank');
  const code = callback.searchParams.get('code');
  if (!callback.href.startsWith(BENCH_CLIENT.redirectUri) || !code || callback.searchParams.get('state') !== state) {
    throw new Error(`${peer.name}: no code in ${callback.href.slice(0, 200)}`);
  }
  // No browser cookies on the back channel (LemonLDAP::NG refuses a token request that carries them).
  const tokens = await tokenRequest(agent, peer, { grant_type: 'authorization_code', code, redirect_uri: BENCH_CLIENT.redirectUri, code_verifier: verifier }, peer.tokenPath);
  if (!tokens.id_token || !tokens.access_token) throw new Error(`${peer.name}: token response without id_token/access_token`);
  return tokens;
}

/** One SSO code flow in a browser that already has a session: authorize (no login page) -> code -> token. */
async function ssoFlow(agent: Agent, peer: Peer, browser: Browser): Promise<void> {
  const { params, verifier, state } = authorizationRequest();
  const page = await browser.follow(`${peer.url}${peer.authorizePath}?${params}`);
  if (!page.location) throw new Error(`${peer.name}: the live session did not answer with a code (${page.status} at ${page.url}): ${page.body.slice(0, 200)}`);
  await exchange(agent, peer, page.location, state, verifier);
}

/** One refresh grant; the next grant of the chain uses the rotated token when the server rotates. */
async function refreshOnce(agent: Agent, peer: Peer, chains: string[], chain: number): Promise<void> {
  const tokens = await tokenRequest(agent, peer, { grant_type: 'refresh_token', refresh_token: chains[chain]! }, peer.tokenPath);
  if (!tokens.access_token) throw new Error(`${peer.name}: refresh response without access_token`);
  if (tokens.refresh_token) chains[chain] = tokens.refresh_token;
}

interface Sample {
  ssoCpuMs: number;
  ssoPerSec: number;
  refreshCpuMs: number;
  refreshPerSec: number;
  rotated: number;
}

async function measure(agent: Agent, peer: Peer, flows: number, refreshes: number): Promise<Sample> {
  const browsers = Array.from({ length: BROWSERS }, () => new Browser(agent));
  await Promise.all(browsers.map((browser, i) => peer.signIn(browser, i)));
  const chains = await Promise.all(Array.from({ length: REFRESH_CHAINS }, (_, i) => peer.signIn(new Browser(agent), BROWSERS + i)));
  const first = [...chains];

  let cpu0 = peer.cpuMs();
  let t0 = performance.now();
  // Each browser (and each refresh chain) runs its requests one after another; the browsers run side by side.
  await runPool(BROWSERS, BROWSERS, async (b) => {
    for (let i = b; i < flows; i += BROWSERS) await ssoFlow(agent, peer, browsers[b]!);
  });
  const ssoCpu = peer.cpuMs() - cpu0;
  const ssoWall = performance.now() - t0;

  cpu0 = peer.cpuMs();
  t0 = performance.now();
  await runPool(REFRESH_CHAINS, REFRESH_CHAINS, async (chain) => {
    for (let i = chain; i < refreshes; i += REFRESH_CHAINS) await refreshOnce(agent, peer, chains, chain);
  });
  const refreshCpu = peer.cpuMs() - cpu0;
  const refreshWall = performance.now() - t0;
  return {
    ssoCpuMs: ssoCpu / flows,
    ssoPerSec: (flows * 1000) / ssoWall,
    refreshCpuMs: refreshCpu / refreshes,
    refreshPerSec: (refreshes * 1000) / refreshWall,
    rotated: chains.filter((token, i) => token !== first[i]).length / REFRESH_CHAINS,
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const missing = lemonldapMissing();
if (missing) {
  process.stderr.write(`lemonldap-peer skipped: not installed (${missing}). Install: apt-get install -y --no-install-recommends ${LEMONLDAP_PACKAGES}\n`);
  emitResult({ scenario: 'lemonldap-peer', title: 'SSO flow and refresh vs LemonLDAP::NG (skipped: not installed)', peer: `LemonLDAP::NG: ${missing}`, rows: [] });
} else {
  let portal: LemonLdapPortal | undefined;
  await runScenario(async (servers) => {
    const method = {
      ...prepare(),
      lemonldap: `LemonLDAP::NG ${lemonldapVersion()} portal (Debian), plackup's single-process HTTP::Server::PSGI, demo users, Apache::Session::File sessions in a temporary directory, RS256`,
      broker: 'memory store (every state operation counted in the process), info logs and audit to /dev/null, rate limits on',
      browsers: BROWSERS,
      ssoFlowsPerRun: SSO_FLOWS,
      refreshChains: REFRESH_CHAINS,
      refreshesPerRun: REFRESHES,
      ssoFlow: 'a browser with a live session: authorize -> (redirects) -> code -> token request without cookies (PKCE S256, client_secret_basic)',
      refresh: 'refresh_token grant; the broker rotates (each grant uses the previous response\'s token), LemonLDAP::NG 2.16 does not (same token)',
      cpu: 'utime + stime of the server process from /proc, per operation',
    };
    const jwksFile = await writeBenchJwks();
    const passwordHash = await benchPasswordHash();
    const broker = { kind: 'broker' as const, jwksFile, passwordHash, store: { type: 'memory' as const } };
    const es256 = await ServerChild.start('vestibule', broker);
    servers.push(es256);
    const rs256 = await ServerChild.start('vestibule-rs256', { ...broker, config: { clients: [{ ...BENCH_CLIENT_CONFIG, idTokenSignedResponseAlg: 'RS256' }] } });
    servers.push(rs256);
    portal = await LemonLdapPortal.start(await freePort());
    const agents = [pool(BROWSERS + REFRESH_CHAINS), pool(BROWSERS + REFRESH_CHAINS), pool(BROWSERS + REFRESH_CHAINS)];
    const peers = [brokerPeer(es256, agents[0]!), brokerPeer(rs256, agents[1]!), lemonldapPeer(portal, agents[2]!)];
    try {
      for (const peer of peers) await measure(agents[peers.indexOf(peer)]!, peer, WARMUP, WARMUP * 2);
      const samples = new Map<string, Sample[]>(peers.map((p) => [p.name, []]));
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        for (const peer of repeat % 2 === 0 ? peers : [...peers].reverse()) {
          const sample = await measure(agents[peers.indexOf(peer)]!, peer, SSO_FLOWS, REFRESHES);
          samples.get(peer.name)!.push(sample);
          process.stderr.write(`  [${peer.name} #${repeat + 1}] ${Object.entries(sample).map(([k, v]) => `${k}=${Math.round(v * 1000) / 1000}`).join(' ')}\n`);
        }
      }
      const m = (name: string, field: keyof Sample) => median(samples.get(name)!.map((s) => s[field]));
      const cpuRow = (metric: string, broker: string, field: 'ssoCpuMs' | 'refreshCpuMs'): BenchRow => {
        const r = ratio(m(broker, field), m('lemonldap-ng', field));
        return { metric, unit: 'ms', broker: m(broker, field), peer: m('lemonldap-ng', field), ratio: r, target: '<= 0.333x (3x less CPU)', met: r !== null && r <= TARGET };
      };
      const rows: BenchRow[] = [
        cpuRow('CPU per SSO code flow with a live session (authorize, code, token), ES256 client', 'vestibule', 'ssoCpuMs'),
        cpuRow('CPU per SSO code flow with a live session, RS256 client (as LemonLDAP::NG signs)', 'vestibule-rs256', 'ssoCpuMs'),
        cpuRow('CPU per refresh grant (broker rotates; LemonLDAP::NG 2.16 reuses the token), ES256 client', 'vestibule', 'refreshCpuMs'),
        cpuRow('CPU per refresh grant, RS256 client', 'vestibule-rs256', 'refreshCpuMs'),
        { metric: `SSO code flows/s at concurrency ${BROWSERS} (server on one core)`, unit: 'flows/s', broker: m('vestibule', 'ssoPerSec'), peer: m('lemonldap-ng', 'ssoPerSec'), ratio: ratio(m('vestibule', 'ssoPerSec'), m('lemonldap-ng', 'ssoPerSec')) },
        { metric: `refresh grants/s, ${REFRESH_CHAINS} chains (server on one core)`, unit: '/s', broker: m('vestibule', 'refreshPerSec'), peer: m('lemonldap-ng', 'refreshPerSec'), ratio: ratio(m('vestibule', 'refreshPerSec'), m('lemonldap-ng', 'refreshPerSec')) },
        { metric: 'share of refresh chains whose token rotated', unit: '', broker: m('vestibule', 'rotated'), peer: m('lemonldap-ng', 'rotated'), ratio: null },
      ];
      for (const row of rows) process.stderr.write(`  ${row.metric}: broker ${row.broker?.toFixed(3)} ${row.unit}, LemonLDAP::NG ${row.peer?.toFixed(3)}${row.ratio !== null ? ` (${row.ratio.toFixed(3)}x)` : ''}\n`);
      emitResult({ scenario: 'lemonldap-peer', title: 'SSO code flow and refresh vs LemonLDAP::NG', peer: 'LemonLDAP::NG portal (Debian package) under plackup, same machine, same run', rows, method });
    } catch (error) {
      if (portal?.recentStderr()) process.stderr.write(`--- lemonldap-ng stderr ---\n${portal.recentStderr()}\n`);
      throw error;
    } finally {
      await Promise.all(agents.map((a) => a.close()));
      await portal.stop();
    }
  });
}
