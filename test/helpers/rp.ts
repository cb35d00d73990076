// An openid-client relying party driving the scripted browser through a broker login.
import * as oidc from 'openid-client';
import { Browser, forms, type Page } from './browser.js';
import { TEST_CLIENT, TEST_USER } from './broker.js';

export interface RpClient {
  clientId: string;
  clientSecret?: string;
  redirectUri: string;
}

export function discoverRp(issuer: string, client: RpClient = TEST_CLIENT): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), client.clientId, client.clientSecret, client.clientSecret ? undefined : oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

export interface AuthorizationRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function authorizationRequest(config: oidc.Configuration, client: RpClient = TEST_CLIENT, params: Record<string, string> = {}): Promise<AuthorizationRequest> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: client.redirectUri,
    scope: 'openid profile email groups',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

/** Answers the broker's pages (choose, local login, consent, an account switch's sign-out) until the browser is sent to the redirect URI. */
export async function completeLogin(browser: Browser, start: Page, redirectUri: string, options: { username?: string; password?: string; connector?: string; consent?: boolean } = {}): Promise<URL> {
  let page = start;
  for (let step = 0; step < 8; step++) {
    if (page.url.startsWith(redirectUri)) return new URL(page.url);
    const actions = forms(page).map((f) => f.action);
    if (actions.some((a) => a.endsWith('/login'))) {
      page = await browser.submit(page, '/login', { username: options.username ?? TEST_USER.username, password: options.password ?? TEST_USER.password }, redirectUri);
    } else if (actions.some((a) => a.endsWith('/consent'))) {
      page = await browser.submit(page, '/consent', { decision: options.consent === false ? 'deny' : 'allow' }, redirectUri);
    } else if (actions.some((a) => a.endsWith('/session/end/confirm'))) {
      // oidc-provider's auto-posted sign-out of the previous account after signing in as another one (a browser runs its script).
      page = await browser.submit(page, '/session/end/confirm', {}, redirectUri);
    } else if (actions.some((a) => a.endsWith('/choose')) && options.connector) {
      page = await browser.submit(page, '/choose', { connector: options.connector }, redirectUri);
    } else {
      throw new Error(`unexpected page ${page.url} (${page.status}): ${page.body.slice(0, 400)}`);
    }
  }
  throw new Error('login did not finish');
}

/** The whole authorization code flow with PKCE through the local login form; returns the token response. */
export async function loginAndExchange(issuer: string, options: { client?: RpClient; params?: Record<string, string>; browser?: Browser } = {}) {
  const client = options.client ?? TEST_CLIENT;
  const config = await discoverRp(issuer, client);
  const request = await authorizationRequest(config, client, options.params);
  const browser = options.browser ?? new Browser();
  const first = await browser.follow(request.url.href, {}, client.redirectUri);
  const callback = await completeLogin(browser, first, client.redirectUri);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
  return { config, tokens, browser, callback, request };
}

/**
 * An offline sign-in (offline_access, prompt=consent) through the broker to a test upstream OP's login form, as its
 * user alice; returns the RP configuration, the token response and the browser.
 */
export async function offlineUpstreamSignIn(issuer: string, browser = new Browser()) {
  const config = await discoverRp(issuer);
  const request = await authorizationRequest(config, TEST_CLIENT, { scope: 'openid email offline_access', prompt: 'consent' });
  let page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  page = await browser.submit(page, '/login', { username: 'alice', password: 'alice-pw' }, TEST_CLIENT.redirectUri);
  const callback = await completeLogin(browser, page, TEST_CLIENT.redirectUri);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
  return { config, tokens, browser };
}
