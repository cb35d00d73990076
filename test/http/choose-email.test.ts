// Home-realm discovery over HTTP: an email typed on the choose page (or sent as login_hint) reaches the right connector and signs in.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, forms, type Page } from '../helpers/browser.js';
import { localProvider, startBroker, TEST_CLIENT, TEST_USER, testUserHash, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';

const CAROL = { username: 'carol', email: 'carol@eu.corp.test' };

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker({
    providers: [
      await localProvider('local', ['example.com']),
      { id: 'staff', type: 'local', name: 'Corp staff', domains: ['*.corp.test'], config: { users: [{ ...CAROL, passwordHash: await testUserHash() }] } },
    ],
  });
});
afterAll(async () => broker?.close());

/** A browser on the choose page of a fresh authorization request. */
async function atChoosePage(params: Record<string, string> = {}) {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config, TEST_CLIENT, params);
  const browser = new Browser();
  const page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  return { config, request, browser, page };
}

const loginForm = (page: Page) => forms(page).find((f) => f.action.endsWith('/login'));

/** Signs in on the login form with what it pre-filled, consents, and returns the ID token's claims. */
async function finish(start: Awaited<ReturnType<typeof atChoosePage>>, page: Page, username: string) {
  const callback = await completeLogin(start.browser, page, TEST_CLIENT.redirectUri, { username });
  const tokens = await oidc.authorizationCodeGrant(start.config, callback, { pkceCodeVerifier: start.request.verifier, expectedState: start.request.state, expectedNonce: start.request.nonce, idTokenExpected: true });
  return tokens.claims()!;
}

describe('an email typed on the choose page', () => {
  it('opens the local login form pre-filled with the email, and the right password signs in as the same account as the username', async () => {
    const start = await atChoosePage();
    expect(forms(start.page).some((f) => f.action.endsWith('/choose') && 'email' in f.fields)).toBe(true);
    const form = await start.browser.submit(start.page, '/choose', { email: 'Alice@Example.com' });
    expect(form.status).toBe(200);
    expect(loginForm(form)).toMatchObject({ fields: { connector: 'local', username: 'Alice@Example.com' } });
    expect(form.body).toContain('Username or email');
    const failuresBefore = broker.audit.filter((e) => e.event === 'login.failure').length;
    const byEmail = await finish(start, form, loginForm(form)!.fields.username!);
    expect(broker.audit.filter((e) => e.event === 'login.failure')).toHaveLength(failuresBefore);

    const again = await atChoosePage();
    const byUsername = await finish(again, await again.browser.submit(again.page, '/choose', { connector: 'local' }), TEST_USER.username);
    expect(byEmail.sub).toBe(byUsername.sub);
    expect(byEmail.email).toBe(TEST_USER.email);
  });

  it('with a domain no provider claims is not sent to a password form', async () => {
    const start = await atChoosePage();
    const page = await start.browser.submit(start.page, '/choose', { email: 'mallory@elsewhere.test' });
    expect(page.status).toBe(400);
    expect(page.body).toContain('No sign-in option matches this email address.');
    expect(loginForm(page)).toBeUndefined();
  });

  it('in a subdomain of a "*.corp.test" provider reaches that provider and signs in', async () => {
    const start = await atChoosePage();
    const form = await start.browser.submit(start.page, '/choose', { email: CAROL.email });
    expect(form.body).toContain('Corp staff');
    expect(loginForm(form)).toMatchObject({ fields: { connector: 'staff', username: CAROL.email } });
    const claims = await finish(start, form, CAROL.email);
    expect(claims.email).toBe(CAROL.email);
  });
});

describe('login_hint with an email', () => {
  it('skips the choose page, pre-fills the email and signs in with it', async () => {
    const start = await atChoosePage({ login_hint: TEST_USER.email });
    expect(loginForm(start.page)).toMatchObject({ fields: { connector: 'local', username: TEST_USER.email } });
    const claims = await finish(start, start.page, TEST_USER.email);
    expect(claims.email).toBe(TEST_USER.email);
  });
});
