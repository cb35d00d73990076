// Risk-graded access end to end over real HTTP (issue 11): low risk passes, medium asks for TOTP, a client requiring MFA steps up, smart lockout, high risk ends sessions; memory store and Redis.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA, ACR_PASSWORD } from '../../src/mfa/assurance.js';
import { AccountLocks } from '../../src/session/account-locks.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { Browser, forms } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import type { RpClient } from '../helpers/rp.js';
import { atFactorPage, authorize, daysOffToday, enrolTotp, exchange, hasForm, localAccountId, localAccounts, submitPassword, totpCode, untilClient } from '../helpers/step-up.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { expectGrantRevoked } from '../helpers/token-endpoint.js';

const MFA_CLIENT: RpClient = { clientId: 'payroll', clientSecret: 'payroll-secret-0123456789abcdefghijklmnop', redirectUri: 'http://127.0.0.1:1/payroll-cb' };
const ADMIN_CLIENT: RpClient = { clientId: 'admin-console', clientSecret: 'admin-console-secret-0123456789abcdefghijk', redirectUri: 'http://127.0.0.1:1/admin-cb' };
const WEBHOOK_SECRET = 'soar-webhook-secret-0123456789abcdefghijklmnop';
/** Addresses the test's trusted proxy (127.0.0.1) forwards for: an office network, somewhere else, a blocked network. */
const OFFICE = { 'x-forwarded-for': '10.20.30.40' };
const ELSEWHERE = { 'x-forwarded-for': '198.51.100.7' };
const BLOCKED = { 'x-forwarded-for': '203.0.113.9' };
const OFFLINE = { scope: 'openid email offline_access', prompt: 'consent' };

interface Delivery {
  body: string;
  signature: string;
}

async function webhookReceiver(): Promise<{ server: Server; url: string; deliveries: Delivery[] }> {
  const deliveries: Delivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      deliveries.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['vestibule-signature'] ?? '') });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/soar`, deliveries };
}

/** Checks the signature as a SOC tool would: HMAC-SHA256 over "<t>.<body>" with the shared secret. */
function signedCorrectly(delivery: Delivery): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(delivery.signature);
  if (!match) return false;
  return createHmac('sha256', WEBHOOK_SECRET).update(`${match[1]}.${delivery.body}`).digest('hex') === match[2];
}

async function waitFor<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const found = probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const confidential = (client: RpClient, extra: Record<string, unknown> = {}) => ({
  clientId: client.clientId,
  clientSecret: client.clientSecret,
  redirectUris: [client.redirectUri],
  ...extra,
});

describe.each(STORE_BACKENDS)('risk-graded access on the %s store', (_name, openStore) => {
  let broker: TestBroker;
  let store: KeyValueStore;
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;

  beforeAll(async () => {
    store = await openStore();
    receiver = await webhookReceiver();
    broker = await startBroker({
      store,
      providers: [await localAccounts(['low', 'medium', 'payroll', 'twice', 'victim', 'target', 'racer', 'second', 'again', 'outsider', 'locked'])],
      config: {
        trustProxy: ['127.0.0.1'],
        clients: [
          confidential(TEST_CLIENT, { name: 'Test RP' }),
          confidential(MFA_CLIENT, { name: 'Payroll', risk: { minAcr: ACR_MFA } }),
          confidential(ADMIN_CLIENT, { name: 'Admin console', skipConsent: true, risk: { accessPolicy: { rules: [{ name: 'admins-only', source: { groups: ['admins'] }, action: 'allow' }] } } }),
        ],
        risk: {
          networks: { trusted: ['10.0.0.0/8'], blocked: ['203.0.113.0/24'] },
          workingHours: { timeZone: 'UTC', days: daysOffToday(), start: '08:00', end: '19:00' },
          webhook: { url: receiver.url, secret: WEBHOOK_SECRET, allowLoopbackHttp: true, backoffMs: 10 },
        },
      },
    });
  });

  afterAll(async () => {
    await broker?.close();
    await closeTestStore(store);
    receiver?.server.close();
  });

  const riskOf = (username: string) => broker.audit.filter((event) => event.event === 'risk.evaluated' && event.accountId === localAccountId(username));

  it('a low-risk sign-in (office network, off-hours, new device: 40 < 50) passes without a second factor', async () => {
    const auth = await authorize(broker.issuer, new Browser({ headers: OFFICE }), TEST_CLIENT);
    const afterPassword = await submitPassword(auth, auth.page, 'low');
    expect(hasForm(afterPassword, '/mfa/')).toBe(false);
    const tokens = await exchange(auth, await untilClient(auth, afterPassword));
    expect(tokens.claims()).toMatchObject({ acr: ACR_PASSWORD, amr: ['pwd'] });
    expect(riskOf('low').at(-1)).toMatchObject({ outcome: 'success', details: expect.objectContaining({ phase: 'sign-in', level: 'low', action: 'allow', signals: expect.stringContaining('device.new') }) });
    expect(riskOf('low').at(-1)?.details?.signals).not.toContain('network.untrusted');
  });

  it('an untrusted network plus a new device plus off-hours asks for TOTP; the ID token then carries the MFA acr and otp', async () => {
    const secret = await enrolTotp(broker, localAccountId('medium'));
    const auth = await authorize(broker.issuer, new Browser({ headers: ELSEWHERE }), TEST_CLIENT);
    const stepUp = await submitPassword(auth, auth.page, 'medium');
    expect(atFactorPage(stepUp)).toBe(true);
    expect(stepUp.body).toContain('looks unusual');
    expect(stepUp.body).not.toContain('name="password"');
    expect(riskOf('medium').at(-1)?.details).toMatchObject({ level: 'medium', action: 'step_up', signals: expect.stringMatching(/network\.untrusted.*device\.new.*time\.off_hours|network\.untrusted/) });

    const wrong = await auth.browser.submit(stepUp, '/mfa/totp', { code: totpCode(secret, Date.now() + 10 * 60_000) }, auth.client.redirectUri);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('role="alert"');
    const done = await auth.browser.submit(wrong, '/mfa/totp', { code: totpCode(secret) }, auth.client.redirectUri);
    const tokens = await exchange(auth, await untilClient(auth, done));
    expect(tokens.claims()?.acr).toBe(ACR_MFA);
    expect(tokens.claims()?.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'mfa.verified', outcome: 'failure', reason: 'invalid', accountId: localAccountId('medium') }));
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'mfa.verified', outcome: 'success', accountId: localAccountId('medium') }));
    // The sign-in passed: this browser is now a known device, and the fresh factor covers the next authorization.
    const silent = await authorize(broker.issuer, auth.browser, TEST_CLIENT, { prompt: 'none' });
    expect(new URL(silent.page.url).searchParams.get('code')).toBeTruthy();
    expect(riskOf('medium').at(-1)?.details).toMatchObject({ phase: 'authorization', action: 'allow' });
    expect(riskOf('medium').at(-1)?.details?.signals).not.toContain('device.new');
  });

  it('a client that requires MFA steps up even at low risk (enrolment with a QR code, then recovery codes); prompt=none on a password session answers interaction_required', async () => {
    const browser = new Browser({ headers: OFFICE });
    // A low-risk password session at another client first.
    const first = await authorize(broker.issuer, browser, TEST_CLIENT);
    const firstTokens = await exchange(first, await untilClient(first, await submitPassword(first, first.page, 'payroll')));
    expect(firstTokens.claims()?.acr).toBe(ACR_PASSWORD);

    const silent = await authorize(broker.issuer, browser, MFA_CLIENT, { prompt: 'none' });
    const answer = new URL(silent.page.url);
    expect(answer.origin + answer.pathname).toBe(MFA_CLIENT.redirectUri);
    expect(answer.searchParams.get('error')).toBe('interaction_required');

    // Interactive: the factor prompt, never a new password prompt; no factor yet and the sign-in was low risk, so enrolment.
    const auth = await authorize(broker.issuer, browser, MFA_CLIENT);
    expect(auth.page.body).not.toContain('name="password"');
    expect(auth.page.body).toContain('img src="data:image/svg+xml;base64,');
    const secret = /data-totp-secret="([A-Z2-7]+)"/.exec(auth.page.body)?.[1];
    expect(secret).toBeDefined();
    const codes = await auth.browser.submit(auth.page, '/mfa/enrol/totp', { code: totpCode(secret!) }, auth.client.redirectUri);
    const shown = [...codes.body.matchAll(/<li><code>([0-9A-Z-]+)<\/code><\/li>/g)].map((match) => match[1]);
    expect(shown).toHaveLength(10);
    const done = await auth.browser.submit(codes, '/mfa/continue', {}, auth.client.redirectUri);
    const tokens = await exchange(auth, await untilClient(auth, done));
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: expect.arrayContaining(['pwd', 'otp', 'mfa']) });
    // The same session now satisfies the client without a prompt.
    const again = await authorize(broker.issuer, browser, MFA_CLIENT, { prompt: 'none' });
    expect(new URL(again.page.url).searchParams.get('code')).toBeTruthy();
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'mfa.enrolled', outcome: 'success', details: { kind: 'totp' } }));
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'mfa.enrolled', outcome: 'success', details: { kind: 'recovery' } }));
  });

  it('a medium-risk sign-in of an account without a factor cannot enrol one (enrolment is no shortcut)', async () => {
    const auth = await authorize(broker.issuer, new Browser({ headers: ELSEWHERE }), TEST_CLIENT);
    const refused = await submitPassword(auth, auth.page, 'second');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('cannot be added during this sign-in');
    expect(refused.body).not.toContain('data-totp-secret');
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'mfa.enrolled', outcome: 'failure', reason: 'risk_medium', accountId: localAccountId('second') }));
  });

  it('a TOTP code is accepted once: the same code in a second browser, and two submissions at the same moment, are refused', async () => {
    const secret = await enrolTotp(broker, localAccountId('twice'));
    const atStepUp = async () => {
      const auth = await authorize(broker.issuer, new Browser({ headers: ELSEWHERE }), TEST_CLIENT);
      return { auth, page: await submitPassword(auth, auth.page, 'twice') };
    };
    const [a, b, c] = await Promise.all([atStepUp(), atStepUp(), atStepUp()]);
    const code = totpCode(secret);
    const first = await a.auth.browser.submit(a.page, '/mfa/totp', { code }, a.auth.client.redirectUri);
    expect(hasForm(first, '/mfa/')).toBe(false);
    const replayed = await b.auth.browser.submit(b.page, '/mfa/totp', { code }, b.auth.client.redirectUri);
    expect(replayed.status).toBe(401);
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'mfa.verified', outcome: 'failure', reason: 'replayed', accountId: localAccountId('twice') }));

    // Two answers with the next step's code at the same moment: exactly one is accepted.
    const next = totpCode(secret, Date.now() + 30_000);
    const raced = await Promise.all([b, c].map((x) => x.auth.browser.submit(x.page, '/mfa/totp', { code: next }, x.auth.client.redirectUri)));
    expect(raced.filter((page) => page.status === 401)).toHaveLength(1);
    expect(raced.filter((page) => !hasForm(page, '/mfa/'))).toHaveLength(1);
  });

  it('six wrong passwords from an unfamiliar device lock it out; the right password from there is refused clearly; the owner on a known device gets in with a step-up; the SOAR webhook gets a signed event', async () => {
    const accountId = localAccountId('victim');
    const secret = await enrolTotp(broker, accountId);
    const owner = new Browser({ headers: OFFICE });
    const known = await authorize(broker.issuer, owner, TEST_CLIENT);
    await untilClient(known, await submitPassword(known, known.page, 'victim'));

    const attacker = new Browser({ headers: ELSEWHERE });
    let page = (await authorize(broker.issuer, attacker, TEST_CLIENT)).page;
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      page = await attacker.submit(page, '/login', { username: 'victim', password: `guess ${attempt}` }, TEST_CLIENT.redirectUri);
      statuses.push(page.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 403]);
    const refused = await attacker.submit(page, '/login', { username: 'victim', password: 'correct horse battery staple' }, TEST_CLIENT.redirectUri);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('locked on unfamiliar devices');
    expect(refused.body).toContain('role="alert"');
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'login.failure', reason: 'sign_in_locked', accountId }));

    const again = await authorize(broker.issuer, owner, TEST_CLIENT, { prompt: 'login' });
    const stepUp = await submitPassword(again, again.page, 'victim');
    expect(atFactorPage(stepUp)).toBe(true);
    const tokens = await exchange(again, await untilClient(again, await owner.submit(stepUp, '/mfa/totp', { code: totpCode(secret) }, TEST_CLIENT.redirectUri)));
    expect(tokens.claims()?.acr).toBe(ACR_MFA);

    const delivery = await waitFor(() => receiver.deliveries.find((d) => d.body.includes('risk.lockout') && d.body.includes(accountId)), 'the SOAR delivery');
    expect(signedCorrectly(delivery)).toBe(true);
    expect(signedCorrectly({ ...delivery, body: delivery.body.replace('risk.lockout', 'risk.lockouT') })).toBe(false);
    expect(JSON.parse(delivery.body)).toMatchObject({ event: 'risk.lockout', accountId });
    expect(delivery.body).not.toContain('guess');
  });

  it('high risk on a second sign-in ends the account existing session: its refresh token stops working, and the account is locked', async () => {
    const accountId = localAccountId('target');
    const first = await authorize(broker.issuer, new Browser({ headers: OFFICE }), TEST_CLIENT, OFFLINE);
    const tokens = await exchange(first, await untilClient(first, await submitPassword(first, first.page, 'target')));
    expect(tokens.refresh_token).toBeTruthy();
    expect((await oidc.refreshTokenGrant(first.config, tokens.refresh_token!)).access_token).toBeTruthy();

    const risky = await authorize(broker.issuer, new Browser({ headers: BLOCKED }), TEST_CLIENT);
    const refused = await submitPassword(risky, risky.page, 'target');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('looks risky');
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'risk.high', accountId, level: 'error', details: expect.objectContaining({ severity: 'high', sessionsEnded: 1 }) }));
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'session.ended', accountId }));
    await expect(oidc.refreshTokenGrant(first.config, tokens.refresh_token!)).rejects.toThrow();
    await expectGrantRevoked(broker, { access_token: tokens.access_token, refresh_token: tokens.refresh_token! });
    const webhook = await waitFor(() => receiver.deliveries.find((d) => d.body.includes('risk.high') && d.body.includes(accountId)), 'the risk.high delivery');
    expect(signedCorrectly(webhook)).toBe(true);
  });

  it('a step-up finished in another browser does not satisfy this browser; the interaction cannot be answered without its cookie', async () => {
    const accountId = localAccountId('racer');
    const secret = await enrolTotp(broker, accountId);
    const atStepUp = async () => {
      const auth = await authorize(broker.issuer, new Browser({ headers: ELSEWHERE }), TEST_CLIENT);
      return { auth, page: await submitPassword(auth, auth.page, 'racer') };
    };
    const [mine, theirs] = await Promise.all([atStepUp(), atStepUp()]);
    // The other browser answers this browser's interaction (even with its form's CSRF value): no interaction cookie there, refused.
    const form = forms(mine.page).find((f) => f.action.endsWith('/mfa/totp'))!;
    const crossed = await theirs.auth.browser.request(new URL(form.action, mine.page.url).href, { form: { ...form.fields, code: totpCode(secret) } });
    expect(crossed.status).toBe(400);
    expect(crossed.body).toContain('expired or is unknown');
    // The other browser finishes its own step-up; this browser is still asked: its interaction page is the factor page,
    // and going on to the authorization without a factor meets the factor page again (the mfa prompt), not the client.
    const theirTokens = await exchange(theirs.auth, await untilClient(theirs.auth, await theirs.auth.browser.submit(theirs.page, '/mfa/totp', { code: totpCode(secret) }, TEST_CLIENT.redirectUri)));
    const interactionUrl = new URL(form.action, mine.page.url);
    interactionUrl.pathname = interactionUrl.pathname.replace(/\/mfa\/totp$/, '');
    const reloaded = await mine.auth.browser.follow(interactionUrl.href, {}, TEST_CLIENT.redirectUri);
    expect(atFactorPage(reloaded)).toBe(true);
    expect(hasForm(reloaded, '/mfa/totp')).toBe(true);
    const skipped = await mine.auth.browser.follow(`${broker.issuer}/auth/${interactionUrl.pathname.split('/').at(-1)}`, {}, TEST_CLIENT.redirectUri);
    expect(atFactorPage(skipped)).toBe(true);
    // The code the other browser spent is refused here; the next one raises this browser's own session.
    const replayed = await mine.auth.browser.submit(skipped, '/mfa/totp', { code: totpCode(secret) }, TEST_CLIENT.redirectUri);
    expect(replayed.status).toBe(401);
    const myTokens = await exchange(mine.auth, await untilClient(mine.auth, await mine.auth.browser.submit(replayed, '/mfa/totp', { code: totpCode(secret, Date.now() + 30_000) }, TEST_CLIENT.redirectUri)));
    expect(myTokens.claims()).toMatchObject({ sub: accountId, acr: ACR_MFA });
    expect(theirTokens.claims()).toMatchObject({ sub: accountId, acr: ACR_MFA });
    const sessions = await broker.app.broker.sessions.sessionsOf(accountId);
    expect(sessions).toHaveLength(2);
  });

  it('a second sign-in in the same browser starts again at the password level: an earlier step-up does not carry over', async () => {
    const accountId = localAccountId('again');
    const secret = await enrolTotp(broker, accountId);
    const browser = new Browser({ headers: OFFICE });
    const mfa = await authorize(broker.issuer, browser, MFA_CLIENT);
    const stepUp = await submitPassword(mfa, mfa.page, 'again');
    const stepped = await exchange(mfa, await untilClient(mfa, await browser.submit(stepUp, '/mfa/totp', { code: totpCode(secret) }, MFA_CLIENT.redirectUri)));
    expect(stepped.claims()).toMatchObject({ sub: accountId, acr: ACR_MFA });
    const second = await authorize(broker.issuer, browser, TEST_CLIENT, { prompt: 'login' });
    const tokens = await exchange(second, await untilClient(second, await submitPassword(second, second.page, 'again')));
    expect(tokens.claims()).toMatchObject({ sub: accountId, acr: ACR_PASSWORD, amr: ['pwd'] });
  });

  it("a client's access policy refuses: a clear page at sign-in, access_denied under prompt=none, and the page's way back tells the application", async () => {
    const accountId = localAccountId('outsider');
    const direct = await authorize(broker.issuer, new Browser({ headers: OFFICE }), ADMIN_CLIENT);
    const refused = await submitPassword(direct, direct.page, 'outsider');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('access policy does not allow');
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'login.failure', reason: 'access_denied', accountId, details: { rule: 'policy:default_deny' } }));

    // With a session from another application: prompt=none answers access_denied; interactively the refusal page, whose link ends the request.
    const browser = new Browser({ headers: OFFICE });
    const other = await authorize(broker.issuer, browser, TEST_CLIENT);
    await untilClient(other, await submitPassword(other, other.page, 'outsider'));
    const silent = await authorize(broker.issuer, browser, ADMIN_CLIENT, { prompt: 'none' });
    expect(new URL(silent.page.url).searchParams.get('error')).toBe('access_denied');
    const interactive = await authorize(broker.issuer, browser, ADMIN_CLIENT);
    expect(interactive.page.status).toBe(403);
    expect(interactive.page.body).toContain('role="alert"');
    const back = /href="(\/interaction\/[\w-]+\/abort)"/.exec(interactive.page.body)?.[1];
    expect(back).toBeDefined();
    const answered = await browser.follow(new URL(back!, broker.issuer).href, {}, ADMIN_CLIENT.redirectUri);
    expect(new URL(answered.url).searchParams.get('error')).toBe('access_denied');
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'login.failure', reason: 'access_refused', accountId }));
  });

  it('an account lock (admin or high risk) refuses sign-in on every device before the password is checked, without its reason; unlock lets the owner in', async () => {
    const accountId = localAccountId('locked');
    const locks = new AccountLocks(store);
    await locks.lock(accountId, 'stolen laptop (ticket 42)', 60_000);
    const auth = await authorize(broker.issuer, new Browser({ headers: OFFICE }), TEST_CLIENT);
    const refused = await submitPassword(auth, auth.page, 'locked');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('This account is locked');
    expect(refused.body).not.toContain('stolen laptop');
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'login.failure', reason: 'account_locked', accountId }));
    await locks.unlock(accountId);
    const again = await submitPassword(auth, refused, 'locked');
    const tokens = await exchange(auth, await untilClient(auth, again));
    expect(tokens.claims()?.sub).toBe(accountId);
  });
});
