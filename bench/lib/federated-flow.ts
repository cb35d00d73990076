// One federated sign-in through an upstream OIDC provider, as a browser makes it: broker -> upstream login form -> broker callback -> code -> token.
import { Agent, request } from 'undici';
import { authorizationRequest } from './flow.js';
import { BENCH_CLIENT } from './settings.js';

const basicAuth = `Basic ${Buffer.from(`${encodeURIComponent(BENCH_CLIENT.clientId)}:${encodeURIComponent(BENCH_CLIENT.clientSecret)}`).toString('base64')}`;

/** A browser whose cookie jar is keyed by host: broker and upstream are both oidc-provider and share cookie names. */
export class TwoHostBrowser {
  private readonly jars = new Map<string, Map<string, string>>();
  constructor(private readonly agent: Agent) {}

  async send(url: string, form?: Record<string, string>): Promise<{ status: number; location?: string; body: string }> {
    const host = new URL(url).host;
    const jar = this.jars.get(host) ?? new Map<string, string>();
    this.jars.set(host, jar);
    const headers: Record<string, string> = { accept: 'text/html' };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await request(url, { dispatcher: this.agent, method: form ? 'POST' : 'GET', headers, body: form ? new URLSearchParams(form).toString() : undefined });
    const setCookie = response.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const pair = line.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (!value || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    const location = response.headers.location;
    return { status: response.statusCode, location: typeof location === 'string' ? new URL(location, url).href : undefined, body: await response.body.text() };
  }
}

/** One federated login through the upstream `idpHint` as `user`; returns when the broker's token endpoint has issued the ID token. */
export async function federatedFlow(agent: Agent, brokerUrl: string, idpHint: string, user: { username: string; password: string }): Promise<void> {
  const browser = new TwoHostBrowser(agent);
  const { params, verifier, state } = authorizationRequest({ idp_hint: idpHint });
  let url = `${brokerUrl}/auth?${params}`;
  let form: Record<string, string> | undefined;
  let submitted = false;
  for (let hop = 0; hop < 30; hop++) {
    const response = await browser.send(url, form);
    form = undefined;
    if (response.location?.startsWith(BENCH_CLIENT.redirectUri)) {
      const callback = new URL(response.location);
      const code = callback.searchParams.get('code');
      if (!code || callback.searchParams.get('state') !== state) throw new Error(`broker: no code in ${response.location.slice(0, 200)}`);
      const token = await request(`${brokerUrl}/token`, {
        dispatcher: agent,
        method: 'POST',
        headers: { authorization: basicAuth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: BENCH_CLIENT.redirectUri, code_verifier: verifier }).toString(),
      });
      const body = (await token.body.json()) as { id_token?: string };
      if (token.statusCode !== 200 || !body.id_token) throw new Error(`broker /token: ${token.statusCode}`);
      return;
    }
    if (response.location && response.status >= 300 && response.status < 400) {
      url = response.location;
      continue;
    }
    const action = /action="(\/interaction\/[\w-]+\/login)"/.exec(response.body)?.[1];
    if (response.status !== 200 || !action || submitted) throw new Error(`unexpected page ${url} (${response.status}): ${response.body.slice(0, 300)}`);
    submitted = true;
    url = new URL(action, url).href;
    form = { ...user };
  }
  throw new Error('federated flow did not finish');
}
