// Step-up test helpers: local users, TOTP codes computed from a secret, a factor enrolled through the repository, and a sign-in driven up to the factor page or the client.
import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import type { ProviderFile } from '../../src/config/schema.js';
import { accountIdFor } from '../../src/connectors/claims.js';
import { Browser, forms, type Page } from './browser.js';
import { TEST_USER, testUserHash, type TestBroker } from './broker.js';
import { authorizationRequest, discoverRp, type RpClient } from './rp.js';

/** Local accounts sharing TEST_USER's password, one per test so locks and factors never cross tests. */
export async function localAccounts(usernames: readonly string[]): Promise<ProviderFile> {
  const passwordHash = await testUserHash();
  const users = usernames.map((username) => ({ username, passwordHash, email: `${username}@example.com`, name: username, groups: ['staff'] }));
  return { id: 'local', type: 'local', name: 'Test accounts', domains: ['example.com'], config: { users } };
}

export const localAccountId = (username: string) => accountIdFor('local', username);

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
/** Working days that are neither today nor tomorrow (UTC): with these as risk.workingHours.days every sign-in of a test is off-hours. */
export function daysOffToday(): string[] {
  const today = new Date().getUTCDay();
  return WEEKDAYS.filter((_, index) => index !== today && index !== (today + 1) % 7);
}

/** The RFC 6238 code of a base32 secret at a time (6 digits, 30 s, SHA-1: what authenticator apps compute). */
export function totpCode(secret: string, at = Date.now()): string {
  return new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: at });
}

/**
 * Enrols a TOTP factor for the account through the broker's own repository (set-up, not the flow under test). The
 * enrolment spends the previous time step, so the current step's code is still good for a step-up.
 */
export async function enrolTotp(broker: TestBroker, accountId: string): Promise<string> {
  const { totp } = broker.app.broker.mfa;
  const subject = { accountId, interactionId: `setup-${accountId}` };
  const { secret } = await totp.startEnrolment(subject);
  const enrolled = await totp.finishEnrolment(subject, { code: totpCode(secret, Date.now() - 30_000) });
  if (!enrolled.ok) throw new Error(`test enrolment failed: ${enrolled.reason}`);
  return secret;
}

export interface Authorization {
  config: oidc.Configuration;
  request: Awaited<ReturnType<typeof authorizationRequest>>;
  client: RpClient;
  browser: Browser;
  page: Page;
}

/** Starts an authorization in `browser` and follows it to the first broker page (or to the client). */
export async function authorize(issuer: string, browser: Browser, client: RpClient, params: Record<string, string> = {}): Promise<Authorization> {
  const config = await discoverRp(issuer, client);
  const request = await authorizationRequest(config, client, params);
  const page = await browser.follow(request.url.href, {}, client.redirectUri);
  return { config, request, client, browser, page };
}

export const hasForm = (page: Page, actionPart: string) => forms(page).some((form) => form.action.includes(actionPart));

/** True on a step-up's factor or enrolment page: a page of an interaction whose forms answer with a second factor, and no password form. */
export const atFactorPage = (page: Page) => /\/interaction\/[\w-]+(\/|$)/.test(new URL(page.url).pathname) && hasForm(page, '/mfa/') && !hasForm(page, '/login');

/** Submits the local password form; answers the next page (factor page, consent, refusal or the client). */
export function submitPassword(auth: Authorization, page: Page, username: string, password = TEST_USER.password): Promise<Page> {
  return auth.browser.submit(page, '/login', { username, password }, auth.client.redirectUri);
}

/** Answers consent pages until the browser is sent back to the client; returns the callback URL. */
export async function untilClient(auth: Authorization, page: Page): Promise<URL> {
  let current = page;
  for (let step = 0; step < 4; step++) {
    if (current.url.startsWith(auth.client.redirectUri)) return new URL(current.url);
    if (!hasForm(current, '/consent')) throw new Error(`unexpected page ${current.url} (${current.status}): ${current.body.slice(0, 400)}`);
    current = await auth.browser.submit(current, '/consent', { decision: 'allow' }, auth.client.redirectUri);
  }
  throw new Error('did not reach the client');
}

/** Exchanges the code the client received; answers the token response. */
export function exchange(auth: Authorization, callback: URL) {
  return oidc.authorizationCodeGrant(auth.config, callback, { pkceCodeVerifier: auth.request.verifier, expectedState: auth.request.state, expectedNonce: auth.request.nonce, idTokenExpected: true });
}
