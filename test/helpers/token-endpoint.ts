// Raw requests to the broker's token and userinfo endpoints (status, headers and JSON as sent), for single-use and retry tests.
import { expect } from 'vitest';
import { Browser } from './browser.js';
import { TEST_CLIENT, type TestBroker } from './broker.js';
import { authorizationRequest, completeLogin, discoverRp } from './rp.js';

/** Authorization parameters that get a refresh token (offline_access needs prompt=consent). */
export const OFFLINE = { scope: 'openid email offline_access', prompt: 'consent' };

const basic = `Basic ${Buffer.from(`${TEST_CLIENT.clientId}:${TEST_CLIENT.clientSecret}`).toString('base64')}`;

export async function tokenRequest(broker: TestBroker, params: Record<string, string>) {
  const response = await fetch(`${broker.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, string> };
}

/** Signs in through the browser up to the redirect back to the client: an authorization code not yet redeemed. */
export async function freshCode(broker: TestBroker) {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config, TEST_CLIENT, OFFLINE);
  const browser = new Browser();
  const callback = await completeLogin(browser, await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri), TEST_CLIENT.redirectUri);
  const params = { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: TEST_CLIENT.redirectUri, code_verifier: request.verifier };
  return { config, params };
}

export async function userinfoStatus(broker: TestBroker, accessToken: string): Promise<number> {
  return (await fetch(`${broker.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
}

export const refreshParams = (refreshToken: string) => ({ grant_type: 'refresh_token', refresh_token: refreshToken });

/** Every token of the grant is dead: the access token is refused by userinfo and the refresh token by the token endpoint. */
export async function expectGrantRevoked(broker: TestBroker, tokens: { access_token: string; refresh_token: string }) {
  expect(await userinfoStatus(broker, tokens.access_token)).toBe(401);
  const refresh = await tokenRequest(broker, refreshParams(tokens.refresh_token));
  expect(refresh.status).toBe(400);
  expect(refresh.body.error).toBe('invalid_grant');
}

