// A session ends tokens.sessionTtl after its sign-in however it is used (ASVS 7.3.2, 10.4.8): refresh, userinfo and silent authorization all stop.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/federation/session-cookie.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { Browser } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { OFFLINE, refreshParams, tokenRequest, userinfoStatus } from '../helpers/token-endpoint.js';

const SESSION_TTL_S = 3600;
const MINUTE = 60_000;

describe.each(STORE_BACKENDS)('the absolute session lifetime on the %s store', (_name, openStore) => {
  let broker: TestBroker;
  let store: KeyValueStore;
  /** How far the broker's clock is ahead of the real one. */
  let offsetMs = 0;

  beforeAll(async () => {
    store = await openStore();
    broker = await startBroker({ store, now: () => Date.now() + offsetMs, config: { tokens: { sessionTtl: SESSION_TTL_S } } });
  });
  afterAll(async () => {
    await broker?.close();
    await closeTestStore(store);
  });

  /** An offline sign-in through the local form at the broker's current time; the RP configuration, tokens and browser. */
  async function signIn(browser = new Browser()) {
    const config = await discoverRp(broker.issuer);
    const request = await authorizationRequest(config, TEST_CLIENT, OFFLINE);
    const callback = await completeLogin(browser, await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri), TEST_CLIENT.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    return { config, browser, tokens: { access_token: tokens.access_token, refresh_token: tokens.refresh_token! } };
  }

  /** A prompt=none authorization in the browser: where the broker sent it back to the client. */
  async function silentAuthorization(config: oidc.Configuration, browser: Browser): Promise<URL> {
    const request = await authorizationRequest(config, TEST_CLIENT, { scope: 'openid email', prompt: 'none' });
    const answer = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    return new URL(answer.url);
  }

  /** Refreshes and checks the new access token at userinfo; the rotated tokens. */
  async function refreshWorks(tokens: { refresh_token: string }) {
    const refreshed = await tokenRequest(broker, refreshParams(tokens.refresh_token));
    expect(refreshed.status).toBe(200);
    expect(await userinfoStatus(broker, refreshed.body.access_token!)).toBe(200);
    return { access_token: refreshed.body.access_token!, refresh_token: refreshed.body.refresh_token! };
  }

  it('used all along (refreshes, re-verifications, silent authorizations), it works until the lifetime and is refused after it', async () => {
    offsetMs = 0;
    const { config, browser, tokens: first } = await signIn();
    const [accountId, sessionId] = browser.cookie(broker.issuer, SESSION_COOKIE)!.split('.') as [string, string];
    const createdAt = (await broker.app.broker.sessions.get(accountId, sessionId))!.createdAt;
    let tokens = first;
    // Every 20 minutes (more than the 15-minute re-verification interval) the client refreshes and the browser re-authorizes silently.
    for (const minutes of [20, 40, 59]) {
      offsetMs = minutes * MINUTE;
      tokens = await refreshWorks(tokens);
      expect(new URL(await silentAuthorization(config, browser)).searchParams.get('code')).toBeTruthy();
    }
    // The session was re-verified along the way and kept its creation time: nothing moved its end.
    const verified = (await broker.app.broker.sessions.get(accountId, sessionId))!;
    expect(verified.lastVerifiedAt).toBeGreaterThan(createdAt + 40 * MINUTE);
    expect(verified.createdAt).toBe(createdAt);
    expect(await userinfoStatus(broker, tokens.access_token)).toBe(200);

    // One minute past sessionTtl: the access token is within its own 10-minute lifetime, the refresh token within its 14 days.
    offsetMs = SESSION_TTL_S * 1000 + MINUTE;
    expect(await userinfoStatus(broker, tokens.access_token)).toBe(401);
    const refused = await tokenRequest(broker, refreshParams(tokens.refresh_token));
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect(refused.body).not.toHaveProperty('access_token');
    const silent = await silentAuthorization(config, browser);
    expect(silent.searchParams.get('error')).toBe('login_required');
    expect(silent.searchParams.get('code')).toBeNull();
    // Interactively, the browser is asked to sign in again rather than handed a code.
    const interactive = await browser.follow((await authorizationRequest(config, TEST_CLIENT)).url.href, {}, TEST_CLIENT.redirectUri);
    expect(interactive.url.startsWith(TEST_CLIENT.redirectUri)).toBe(false);
    expect(interactive.body).toContain('name="password"');
    expect(await broker.app.broker.sessions.sessionsOf(accountId, broker.app.broker.now())).not.toContain(sessionId);
  });

  it('a session signed in later is not affected, and a new sign-in in the expired browser starts a new lifetime', async () => {
    offsetMs = 0;
    const early = await signIn();
    offsetMs = 30 * MINUTE;
    const later = await signIn();
    offsetMs = SESSION_TTL_S * 1000 + MINUTE;
    // The early session is past its lifetime, the later one is 31 minutes from the end of its own.
    expect((await tokenRequest(broker, refreshParams(early.tokens.refresh_token))).status).toBe(400);
    await refreshWorks(later.tokens);
    expect(new URL(await silentAuthorization(later.config, later.browser)).searchParams.get('code')).toBeTruthy();
    // Signing in again in the early browser gives working tokens and a working silent authorization.
    const again = await signIn(early.browser);
    await refreshWorks(again.tokens);
    expect(new URL(await silentAuthorization(again.config, again.browser)).searchParams.get('code')).toBeTruthy();
  });
});
