// Scripted HTTP clients for full flows (undici, keep-alive, one cookie jar per browser): the code flow with PKCE through
// a login form (and consent page when asked), the code exchange, and refresh_token grants.
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { BENCH_CLIENT, BENCH_USER, benchUser } from './settings.js';

export interface Target {
  name: string;
  url: string;
}

export interface TokenResponse {
  access_token: string;
  id_token?: string;
  refresh_token?: string;
  token_type: string;
  expires_in: number;
}

interface Response {
  status: number;
  location?: string;
  body: string;
}

const b64url = (bytes: Buffer) => bytes.toString('base64url');
const basicAuth = `Basic ${Buffer.from(`${encodeURIComponent(BENCH_CLIENT.clientId)}:${encodeURIComponent(BENCH_CLIENT.clientSecret)}`).toString('base64')}`;
const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** A connection pool to one server, shared by every scripted browser of a run. */
export function pool(connections: number): Agent {
  return new Agent({ connections, pipelining: 1, keepAliveTimeout: 30_000 });
}

/** One browser: a cookie jar for a single host. */
export class Browser {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly agent: Agent) {}

  async send(url: string, method: 'GET' | 'POST' = 'GET', form?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    let body: string | undefined;
    if (form) {
      body = new URLSearchParams(form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const response = await request(url, { dispatcher: this.agent, method, headers, body });
    const setCookie = response.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const pair = line.slice(0, line.indexOf(';') === -1 ? undefined : line.indexOf(';'));
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (!value || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const location = response.headers.location;
    return { status: response.statusCode, location: typeof location === 'string' ? new URL(location, url).href : undefined, body: await response.body.text() };
  }

  /** Follows redirects until a page, or until the Location is the client's redirect URI (returned as `location`). */
  async follow(url: string, method: 'GET' | 'POST' = 'GET', form?: Record<string, string>): Promise<Response & { url: string }> {
    let current = url;
    let response = await this.send(current, method, form);
    for (let hops = 0; hops < 10; hops++) {
      if (response.status < 300 || response.status >= 400 || !response.location) return { ...response, url: current };
      if (response.location.startsWith(BENCH_CLIENT.redirectUri)) return { ...response, url: current };
      current = response.location;
      response = await this.send(current);
    }
    throw new Error(`too many redirects from ${url}`);
  }
}

/** The first form whose action contains `actionPart`, with its input values. */
export function formOf(body: string, pageUrl: string, actionPart: string): { action: string; fields: Record<string, string> } | undefined {
  for (const match of body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const action = decode(/action="([^"]*)"/i.exec(match[1] ?? '')?.[1] ?? '');
    if (!action.includes(actionPart)) continue;
    const fields: Record<string, string> = {};
    for (const input of (match[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
      const name = /name="([^"]*)"/i.exec(input[1] ?? '')?.[1];
      if (name && !(name in fields)) fields[decode(name)] = decode(/value="([^"]*)"/i.exec(input[1] ?? '')?.[1] ?? '');
    }
    return { action: new URL(action, pageUrl).href, fields };
  }
  return undefined;
}

/** A token request with the bench client's Basic credentials and no cookies (`path`: the server's token endpoint). */
export async function tokenRequest(agent: Agent, target: Target, params: Record<string, string>, path = '/token'): Promise<TokenResponse> {
  const response = await request(`${target.url}${path}`, {
    dispatcher: agent,
    method: 'POST',
    headers: { authorization: basicAuth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params).toString(),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${target.name} /token ${params.grant_type}: ${response.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text) as TokenResponse;
}

/** The bench client's authorization request (PKCE S256, state, nonce), with `extra` parameters over the defaults. */
export function authorizationRequest(extra: Record<string, string> = {}): { params: URLSearchParams; verifier: string; state: string } {
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const params = new URLSearchParams({
    client_id: BENCH_CLIENT.clientId,
    response_type: 'code',
    redirect_uri: BENCH_CLIENT.redirectUri,
    scope: 'openid profile email groups',
    state,
    nonce: b64url(randomBytes(16)),
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    ...extra,
  });
  return { params, verifier, state };
}

/**
 * One complete login of `username` (default: the next bench user, round robin): /auth -> login form -> (consent) -> code -> token.
 * `browser` keeps the session's cookies for later flows (default: a new browser). `offline` asks for offline_access
 * (which oidc-provider grants only with prompt=consent, so the flow also answers the consent page).
 */
let nextUser = 0;

export async function loginFlow(agent: Agent, target: Target, options: { offline?: boolean; username?: string; browser?: Browser } = {}): Promise<TokenResponse> {
  const username = options.username ?? benchUser(nextUser++).username;
  const browser = options.browser ?? new Browser(agent);
  const { params, verifier, state } = authorizationRequest(
    options.offline ? { scope: 'openid profile email groups offline_access', prompt: 'consent' } : {},
  );
  let page = await browser.follow(`${target.url}/auth?${params}`);
  for (let step = 0; step < 4; step++) {
    if (page.location?.startsWith(BENCH_CLIENT.redirectUri)) break;
    const login = formOf(page.body, page.url, '/login');
    const consent = login ? undefined : formOf(page.body, page.url, '/consent');
    if (login) page = await browser.follow(login.action, 'POST', { ...login.fields, username, password: BENCH_USER.password });
    else if (consent) page = await browser.follow(consent.action, 'POST', { ...consent.fields, decision: 'allow' });
    else throw new Error(`${target.name}: unexpected page ${page.url} (${page.status}): ${page.body.slice(0, 300)}`);
  }
  const callback = new URL(page.location ?? 'about:blank');
  const code = callback.searchParams.get('code');
  if (!code || callback.searchParams.get('state') !== state) throw new Error(`${target.name}: no code in ${callback.href.slice(0, 200)}`);
  const tokens = await tokenRequest(agent, target, { grant_type: 'authorization_code', code, redirect_uri: BENCH_CLIENT.redirectUri, code_verifier: verifier });
  if (!tokens.id_token || !tokens.access_token) throw new Error(`${target.name}: token response without id_token/access_token`);
  if (options.offline && !tokens.refresh_token) throw new Error(`${target.name}: no refresh_token for offline_access`);
  return tokens;
}

/** One refresh_token grant; returns the rotated response. */
export async function refresh(agent: Agent, target: Target, refreshToken: string): Promise<TokenResponse> {
  const tokens = await tokenRequest(agent, target, { grant_type: 'refresh_token', refresh_token: refreshToken });
  if (!tokens.refresh_token) throw new Error(`${target.name}: refresh response without a rotated refresh_token`);
  return tokens;
}

/** Runs `total` calls of `task` with at most `concurrency` in flight; resolves with each call's wall time (ms). */
export async function runPool(total: number, concurrency: number, task: (index: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const index = next++;
      const t0 = performance.now();
      await task(index);
      times.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return times;
}

/**
 * Open-loop load: starts `total` calls of `task` at `rate` per second regardless of how many are still running;
 * resolves with each call's latency (ms) measured from its scheduled start, so queueing delay counts.
 */
export async function runOpenLoop(total: number, rate: number, task: (index: number) => Promise<unknown>): Promise<number[]> {
  const interval = 1000 / rate;
  const start = performance.now();
  const latencies: Promise<number>[] = [];
  // Each request's failure is caught at once (an early rejection must not go unhandled while the loop still waits).
  let failure: unknown;
  for (let index = 0; index < total; index++) {
    const due = start + index * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    latencies.push(
      task(index).then(
        () => performance.now() - due,
        (error: unknown) => {
          failure ??= error;
          return Number.NaN;
        },
      ),
    );
  }
  const settled = await Promise.all(latencies);
  if (failure !== undefined) throw failure;
  return settled;
}
