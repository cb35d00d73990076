// One session, one lifecycle (issue 10, defects 4, 5, 6): every token belongs to the session that issued it, on the memory store and on Redis.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderFile } from '../../src/config/schema.js';
import { endSessionsForUpstream } from '../../src/federation/upstream-logout.js';
import { SESSION_COOKIE } from '../../src/federation/session-cookie.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { Browser } from '../helpers/browser.js';
import { PUBLIC_CLIENT, startBroker, TEST_CLIENT, TEST_USER, testUserHash, type TestBroker } from '../helpers/broker.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { authorizationRequest, completeLogin, discoverRp, type RpClient } from '../helpers/rp.js';

const BOB = { username: 'bob', password: TEST_USER.password, email: 'bob@example.com', name: 'Bob', groups: [] as string[] };
const RESOURCE_SERVER = { clientId: 'orders-api', clientSecret: 'orders-api-secret-0123456789abcdefghijk', redirectUri: 'http://127.0.0.1:1/rs-cb' };
const NOSY = { clientId: 'nosy-rp', clientSecret: 'nosy-rp-secret-0123456789abcdefghijklmnop', redirectUri: 'http://127.0.0.1:1/nosy-cb' };
const ONLY_PARTNER = { clientId: 'partner-only', clientSecret: 'partner-only-secret-0123456789abcdefghij', redirectUri: 'http://127.0.0.1:1/partner-cb' };

async function localUsers(id: string, domains: string[]): Promise<ProviderFile> {
  const passwordHash = await testUserHash();
  const { password: _a, ...alice } = TEST_USER;
  const { password: _b, ...bob } = BOB;
  return { id, type: 'local', name: `Accounts ${id}`, domains, config: { users: [{ ...alice, passwordHash }, { ...bob, passwordHash }] } };
}

const confidential = (client: RpClient, extra: Record<string, unknown> = {}) => ({
  clientId: client.clientId,
  clientSecret: client.clientSecret,
  redirectUris: [client.redirectUri],
  postLogoutRedirectUris: [TEST_CLIENT.postLogoutRedirectUri],
  skipConsent: true,
  ...extra,
});

describe.each(STORE_BACKENDS)('sessions on the %s store', (_name, openStore) => {
  let broker: TestBroker;
  let store: KeyValueStore;

  beforeAll(async () => {
    store = await openStore();
    broker = await startBroker({
      store,
      providers: [await localUsers('local', ['example.com']), await localUsers('partner', ['partner.test'])],
      config: {
        clients: [
          confidential(TEST_CLIENT, { name: 'Test RP' }),
          { clientId: PUBLIC_CLIENT.clientId, public: true, redirectUris: [PUBLIC_CLIENT.redirectUri], skipConsent: true },
          confidential(RESOURCE_SERVER, { introspects: [TEST_CLIENT.clientId] }),
          confidential(NOSY),
          confidential(ONLY_PARTNER, { allowedProviders: ['partner'] }),
        ],
      },
    });
  });

  afterAll(async () => {
    await broker?.close();
    await closeTestStore(store);
  });

  /** A sign-in in `browser` (a new one by default) through the local form; returns the tokens and the browser. */
  async function signIn(options: { browser?: Browser; username?: string; connector?: string; params?: Record<string, string>; client?: RpClient } = {}) {
    const client = options.client ?? TEST_CLIENT;
    const config = await discoverRp(broker.issuer, client);
    const request = await authorizationRequest(config, client, { scope: 'openid email offline_access', prompt: 'consent', ...options.params });
    const browser = options.browser ?? new Browser();
    const first = await browser.follow(request.url.href, {}, client.redirectUri);
    const back = await completeLogin(browser, first, client.redirectUri, { username: options.username, connector: options.connector ?? 'local' });
    const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    return { config, tokens, browser, sub: tokens.claims()!.sub };
  }

  async function logout(browser: Browser, config: oidc.Configuration, idToken: string) {
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: TEST_CLIENT.postLogoutRedirectUri });
    const confirm = await browser.follow(url.href);
    const done = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' }, TEST_CLIENT.postLogoutRedirectUri);
    expect(done.url.startsWith(TEST_CLIENT.postLogoutRedirectUri)).toBe(true);
  }

  const works = async (config: oidc.Configuration, accessToken: string, sub: string) => (await oidc.fetchUserInfo(config, accessToken, sub)).sub === sub;
  const fails = (promise: Promise<unknown>) => promise.then(() => false, () => true);
  const introspect = async (client: RpClient, token: string) => (await oidc.tokenIntrospection(await discoverRp(broker.issuer, client), token)).active;

  it('logout in one of two browsers kills that browser\'s tokens and leaves the other\'s working', async () => {
    const one = await signIn();
    const two = await signIn();
    expect(two.sub).toBe(one.sub);
    await logout(two.browser, two.config, two.tokens.id_token!);
    // Browser 2: access token, refresh token and introspection all stop at once (its grants were revoked).
    expect(await fails(oidc.fetchUserInfo(two.config, two.tokens.access_token, two.sub))).toBe(true);
    expect(await introspect(TEST_CLIENT, two.tokens.access_token)).toBe(false);
    await expect(oidc.refreshTokenGrant(two.config, two.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Browser 1 is untouched.
    expect(await works(one.config, one.tokens.access_token, one.sub)).toBe(true);
    expect(await introspect(TEST_CLIENT, one.tokens.access_token)).toBe(true);
    const refreshed = await oidc.refreshTokenGrant(one.config, one.tokens.refresh_token!);
    expect(await works(one.config, refreshed.access_token, one.sub)).toBe(true);
    const ended = broker.audit.filter((e) => e.event === 'session.ended' && e.reason === 'logout' && e.accountId === two.sub);
    expect(ended.at(-1)?.details?.grantsRevoked).toBe(1);
    // The record names the session that ended (browser 2's, as its sign-in was audited), not browser 1's.
    const signIns = broker.audit.filter((e) => e.event === 'login.success' && e.accountId === two.sub).map((e) => e.details?.sessionId);
    expect(signIns.slice(-2)).toHaveLength(2);
    expect(ended.at(-1)?.details?.sessionId).toBe(signIns.at(-1));
    expect(signIns.at(-2)).not.toBe(signIns.at(-1));
    expect(ended.at(-1)).toMatchObject({ ip: '127.0.0.1', requestId: expect.any(String) });
  });

  it('"only this application" on the logout page leaves the federated session and its other clients alone', async () => {
    const web = await signIn();
    const spa = await signIn({ browser: web.browser, client: PUBLIC_CLIENT });
    const url = oidc.buildEndSessionUrl(web.config, { id_token_hint: web.tokens.id_token!, post_logout_redirect_uri: TEST_CLIENT.postLogoutRedirectUri });
    const confirm = await web.browser.follow(url.href);
    const done = await web.browser.submit(confirm, '/session/end/confirm', {}, TEST_CLIENT.postLogoutRedirectUri);
    expect(done.url.startsWith(TEST_CLIENT.postLogoutRedirectUri)).toBe(true);
    const [accountId, sessionId] = web.browser.cookie(broker.issuer, SESSION_COOKIE)!.split('.');
    expect(await broker.app.broker.sessions.get(accountId!, sessionId!)).toBeDefined();
    expect(await works(spa.config, spa.tokens.access_token, spa.sub)).toBe(true);
  });

  it('SAML-style upstream logout of one session (its SessionIndex) ends exactly that session\'s tokens', async () => {
    const one = await signIn();
    const two = await signIn();
    const twoSessionId = two.browser.cookie(broker.issuer, SESSION_COOKIE)!.split('.')[1];
    // The local connector has no SessionIndex: pick browser 2's session among the subject's, as SLO with one would.
    const sessions = await broker.app.broker.sessions.byUpstreamSubject('local', TEST_USER.username);
    const target = sessions.find((s) => s.id === twoSessionId)!;
    expect(target).toBeDefined();
    await broker.app.broker.terminate(target, 'upstream_logout');
    expect(await fails(oidc.fetchUserInfo(two.config, two.tokens.access_token, two.sub))).toBe(true);
    expect(await works(one.config, one.tokens.access_token, one.sub)).toBe(true);
    // The whole-subject form (a LogoutRequest without SessionIndex) ends every session of that NameID.
    await endSessionsForUpstream(broker.app.broker)({ connectorId: 'local', nameId: TEST_USER.username });
    expect(await fails(oidc.fetchUserInfo(one.config, one.tokens.access_token, one.sub))).toBe(true);
    expect(await introspect(TEST_CLIENT, one.tokens.access_token)).toBe(false);
  });

  it('re-authentication in the same browser replaces its session: earlier tokens stay with it and die at logout', async () => {
    const first = await signIn();
    const cookieBefore = first.browser.cookie(broker.issuer, SESSION_COOKIE);
    const again = await signIn({ browser: first.browser, params: { prompt: 'login consent' } });
    expect(again.sub).toBe(first.sub);
    // One session per browser: the same session, re-verified, not a second one orphaning the first.
    expect(first.browser.cookie(broker.issuer, SESSION_COOKIE)?.split('.')[1]).toBe(cookieBefore?.split('.')[1]);
    expect(await works(first.config, first.tokens.access_token, first.sub)).toBe(true);
    await logout(first.browser, again.config, again.tokens.id_token!);
    // The offline tokens of the first sign-in no longer work (they used to survive for 24 h).
    await expect(oidc.refreshTokenGrant(first.config, first.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(again.config, again.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('signing in as a different account in the same browser works and ends the previous account\'s session', async () => {
    const alice = await signIn();
    const bob = await signIn({ browser: alice.browser, username: 'bob', params: { prompt: 'login consent' } });
    expect(bob.sub).not.toBe(alice.sub);
    expect(await works(bob.config, bob.tokens.access_token, bob.sub)).toBe(true);
    await expect(oidc.refreshTokenGrant(alice.config, alice.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(broker.audit.some((e) => e.event === 'session.ended' && e.reason === 'replaced' && e.accountId === alice.sub)).toBe(true);
    // Bob's session survives oidc-provider's sign-out of Alice that follows the switch.
    const refreshed = await oidc.refreshTokenGrant(bob.config, bob.tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
  });

  it('single sign-on honours allowedProviders at every authorization (login_required under prompt=none)', async () => {
    const { browser } = await signIn();
    const config = await discoverRp(broker.issuer, ONLY_PARTNER);
    const silent = await authorizationRequest(config, ONLY_PARTNER, { prompt: 'none' });
    const answer = await browser.follow(silent.url.href, {}, ONLY_PARTNER.redirectUri);
    const back = new URL(answer.url);
    expect(back.searchParams.get('error')).toBe('login_required');
    expect(back.searchParams.get('code')).toBeNull();
    // Interactively the browser is asked to sign in with a provider the client allows, not handed a code.
    const interactive = await authorizationRequest(config, ONLY_PARTNER);
    const page = await browser.follow(interactive.url.href, {}, ONLY_PARTNER.redirectUri);
    expect(page.url.startsWith(ONLY_PARTNER.redirectUri)).toBe(false);
    expect(page.body).toContain('name="password"');
    expect(page.body).toContain('value="partner"');
  });

  it('silent re-authorization stops once the browser\'s session has ended upstream', async () => {
    const { browser } = await signIn();
    const config = await discoverRp(broker.issuer);
    const ok = await browser.follow((await authorizationRequest(config, TEST_CLIENT, { prompt: 'none' })).url.href, {}, TEST_CLIENT.redirectUri);
    expect(new URL(ok.url).searchParams.get('code')).toBeTruthy();
    const pointer = browser.cookie(broker.issuer, SESSION_COOKIE)!.split('.');
    const session = await broker.app.broker.sessions.get(pointer[0]!, pointer[1]!);
    await broker.app.broker.terminate(session!, 'upstream_logout');
    const refused = await browser.follow((await authorizationRequest(config, TEST_CLIENT, { prompt: 'none' })).url.href, {}, TEST_CLIENT.redirectUri);
    expect(new URL(refused.url).searchParams.get('error')).toBe('login_required');
  });

  it('introspection answers only the token\'s own client or a resource server configured for it', async () => {
    const { tokens } = await signIn();
    expect(await introspect(TEST_CLIENT, tokens.access_token)).toBe(true);
    expect(await introspect(RESOURCE_SERVER, tokens.access_token)).toBe(true);
    // Another client learns nothing, not even the subject.
    const nosy = await oidc.tokenIntrospection(await discoverRp(broker.issuer, NOSY), tokens.access_token);
    expect(nosy).toEqual({ active: false });
    const nosyRefresh = await oidc.tokenIntrospection(await discoverRp(broker.issuer, NOSY), tokens.refresh_token!);
    expect(nosyRefresh).toEqual({ active: false });
  });

  it('revocation by another client is refused and revokes nothing', async () => {
    const { tokens, config, sub } = await signIn();
    await expect(oidc.tokenRevocation(await discoverRp(broker.issuer, NOSY), tokens.refresh_token!)).rejects.toMatchObject({ error: 'unauthorized_client' });
    expect(await works(config, tokens.access_token, sub)).toBe(true);
  });
});
