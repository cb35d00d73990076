// The account security page over real HTTP: sign-in first, adding a TOTP (then used at a step-up), proving a factor before changes, removing, new recovery codes, CSRF, risk, two browsers, a doubled confirm, malformed and oversized input; memory store and Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA } from '../../src/mfa/assurance.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { Browser, forms, type Page } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import type { RpClient } from '../helpers/rp.js';
import { atFactorPage, authorize, daysOffToday, enrolTotp, exchange, hasForm, localAccountId, localAccounts, submitPassword, totpCode, untilClient } from '../helpers/step-up.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';

const MFA_CLIENT: RpClient = { clientId: 'payroll', clientSecret: 'payroll-secret-0123456789abcdefghijklmnop', redirectUri: 'http://127.0.0.1:1/payroll-cb' };
const OFFICE = { 'x-forwarded-for': '10.20.30.40' };
const ELSEWHERE = { 'x-forwarded-for': '198.51.100.7' };
const PORTAL = 'http://127.0.0.1:1/portal';
const PAGE = '/account/security';
const USERS = ['adder', 'prover', 'regen', 'forger', 'risky', 'unfinished', 'twin', 'racer', 'prober', 'leaver'];

const codesOf = (page: Page) => [...page.body.matchAll(/<li><code>([0-9A-Z-]+)<\/code><\/li>/g)].map((match) => match[1]!);
const secretOf = (page: Page) => /data-totp-secret="([A-Z2-7]+)"/.exec(page.body)?.[1];

describe.each(STORE_BACKENDS)('account security page on the %s store', (_name, openStore) => {
  let broker: TestBroker;
  let store: KeyValueStore;

  beforeAll(async () => {
    store = await openStore();
    broker = await startBroker({
      store,
      providers: [await localAccounts(USERS)],
      config: {
        trustProxy: ['127.0.0.1'],
        clients: [
          { clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], skipConsent: true },
          { clientId: MFA_CLIENT.clientId, clientSecret: MFA_CLIENT.clientSecret, redirectUris: [MFA_CLIENT.redirectUri], skipConsent: true, name: 'Payroll', risk: { minAcr: ACR_MFA } },
        ],
        // Elsewhere (untrusted) + a new device + off-hours: medium; the office network: low.
        risk: { networks: { trusted: ['10.0.0.0/8'] }, workingHours: { timeZone: 'UTC', days: daysOffToday(), start: '08:00', end: '19:00' } },
        mfa: { accountSecurity: { signInUrl: PORTAL } },
      },
    });
  });

  afterAll(async () => {
    await broker?.close();
    await closeTestStore(store);
  });

  const url = (path: string) => `${broker.issuer}${path}`;
  const factorsOf = (username: string) => broker.app.broker.mfa.credentials.list(localAccountId(username));
  const auditOf = (username: string, event: string) => broker.audit.filter((record) => record.event === event && record.accountId === localAccountId(username));

  /** A browser signed in to the plain client (no step-up) from `headers`' network: it holds the broker's session cookie. */
  async function signedIn(username: string, headers: Record<string, string> = OFFICE): Promise<Browser> {
    const auth = await authorize(broker.issuer, new Browser({ headers }), TEST_CLIENT);
    await untilClient(auth, await submitPassword(auth, auth.page, username));
    return auth.browser;
  }

  /** Posts the page's form whose action contains `actionPart` (its hidden fields, then `fields`), without following a redirect. */
  function post(browser: Browser, page: Page, actionPart: string, fields: Record<string, string> = {}): Promise<Page> {
    const form = forms(page).find((candidate) => candidate.action.includes(actionPart));
    if (!form) throw new Error(`no form ${actionPart} on ${page.url} (${page.status}): ${page.body.slice(0, 300)}`);
    return browser.request(new URL(form.action, page.url).href, { form: { ...form.fields, ...fields } });
  }

  /** Adds a first TOTP on the page and confirms its recovery codes: answers the secret and the codes. */
  async function addFirstTotp(browser: Browser): Promise<{ secret: string; codes: string[] }> {
    const enrol = await browser.request(url(`${PAGE}/totp`));
    expect(enrol.status).toBe(200);
    const secret = secretOf(enrol)!;
    const codesPage = await post(browser, enrol, '/account/security/totp', { code: totpCode(secret) });
    expect(codesPage.status).toBe(200);
    const codes = codesOf(codesPage);
    const confirmed = await post(browser, codesPage, '/recovery/confirm');
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.get('location')).toBe(`${PAGE}?done=added`);
    return { secret, codes };
  }

  it('without a broker session the page and its posts send the browser to sign in; a forged session cookie counts as none', async () => {
    const visitor = new Browser();
    for (const [path, init] of [[PAGE, {}], [`${PAGE}/totp`, {}], [`${PAGE}/remove`, { form: { csrf: 'x', factor: 'y' } }]] as const) {
      const answer = await visitor.request(url(path), init);
      expect(answer.status, path).toBe(303);
      expect(answer.headers.get('location')).toBe(PORTAL);
    }
    const forged = await visitor.request(url(PAGE), { headers: { cookie: `vestibule_fsession=${localAccountId('adder')}.abc; vestibule_fsession.sig=forged` } });
    expect(forged.headers.get('location')).toBe(PORTAL);
  });

  it('the page links to sign-out: confirming it ends the broker session, and the page then sends the browser to sign in', async () => {
    const browser = await signedIn('leaver');
    const page = await browser.request(url(PAGE));
    expect(page.body).toContain('<a href="/session/end" id="sign-out">Sign out</a>');
    const confirm = await browser.request(url('/session/end'));
    expect(confirm.status).toBe(200);
    const done = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    expect(done.status).toBe(200);
    expect(auditOf('leaver', 'session.ended')).toEqual([expect.objectContaining({ reason: 'logout' })]);
    const after = await browser.request(url(PAGE));
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe(PORTAL);
  });

  it('adds a TOTP (QR page, first code, recovery codes once); the next step-up asks for that code and the ID token carries otp and mfa', async () => {
    const browser = await signedIn('adder');
    const list = await browser.request(url(PAGE));
    expect(list.status).toBe(200);
    expect(list.body).toContain('id="no-factors"');
    expect(list.body).toContain(`href="${PAGE}/totp"`);
    const enrol = await browser.request(url(`${PAGE}/totp`));
    expect(enrol.body).toMatch(/<img src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+"/);
    expect(enrol.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    const secret = secretOf(enrol)!;
    const codesPage = await post(browser, enrol, '/account/security/totp', { code: totpCode(secret), label: 'Work phone' });
    expect(codesOf(codesPage)).toHaveLength(10);
    const confirmed = await post(browser, codesPage, '/recovery/confirm');
    expect(confirmed.headers.get('location')).toBe(`${PAGE}?done=added`);
    const after = await browser.request(url(`${PAGE}?done=added`));
    expect(after.body).toContain('role="status"');
    expect(after.body).toContain('Work phone');
    expect((await factorsOf('adder')).map((factor) => factor.kind).sort()).toEqual(['recovery', 'totp']);
    expect(auditOf('adder', 'mfa.enrolled')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ outcome: 'success', details: expect.objectContaining({ kind: 'totp', via: 'account_security' }) }),
        expect.objectContaining({ outcome: 'success', details: expect.objectContaining({ kind: 'recovery', via: 'account_security' }) }),
      ]),
    );
    // The secret never reaches the audit trail.
    expect(JSON.stringify(broker.audit)).not.toContain(secret);

    const stepUp = await authorize(broker.issuer, browser, MFA_CLIENT);
    expect(atFactorPage(stepUp.page)).toBe(true);
    expect(hasForm(stepUp.page, '/mfa/totp')).toBe(true);
    // The enrolment spent the current time step: the app's next code.
    const done = await browser.submit(stepUp.page, '/mfa/totp', { code: totpCode(secret, Date.now() + 30_000) }, MFA_CLIENT.redirectUri);
    const tokens = await exchange(stepUp, await untilClient(stepUp, done));
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: expect.arrayContaining(['pwd', 'otp', 'mfa']) });
  });

  it('an account with a factor proves it before adding or removing one; then adds a second, removes it, and the last one is kept while a client requires MFA', async () => {
    const secret = await enrolTotp(broker, localAccountId('prover'));
    const browser = await signedIn('prover');
    const list = await browser.request(url(PAGE));
    expect(list.body).toContain('id="verify-first"');
    expect(list.body).not.toContain('action="/account/security/remove"');
    const [first] = await factorsOf('prover');

    const enrol = await browser.request(url(`${PAGE}/totp`));
    expect(enrol.status).toBe(303);
    expect(enrol.headers.get('location')).toBe(`${PAGE}/verify?next=totp`);
    const csrf = /name="csrf" value="([^"]+)"/.exec((await browser.request(url(`${PAGE}/verify`))).body)![1]!;
    const sneaked = await browser.request(url(`${PAGE}/totp`), { form: { csrf, code: '123456' } });
    expect(sneaked.status).toBe(303);
    const removal = await browser.request(url(`${PAGE}/remove`), { form: { csrf, factor: first!.id } });
    expect(removal.headers.get('location')).toBe(`${PAGE}/verify`);
    expect(await factorsOf('prover')).toHaveLength(1);
    expect(auditOf('prover', 'mfa.enrolled')).toContainEqual(expect.objectContaining({ outcome: 'failure', reason: 'existing_factor_required' }));
    expect(auditOf('prover', 'mfa.removed')).toContainEqual(expect.objectContaining({ outcome: 'failure', reason: 'existing_factor_required' }));

    const verify = await browser.request(url(`${PAGE}/verify?next=totp`));
    const wrong = await post(browser, verify, '/verify/totp', { code: '000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('role="alert"');
    const proved = await post(browser, wrong, '/verify/totp', { code: totpCode(secret) });
    expect(proved.headers.get('location')).toBe(`${PAGE}/totp`);
    const second = await browser.request(url(`${PAGE}/totp`));
    const secondSecret = secretOf(second)!;
    const added = await post(browser, second, '/account/security/totp', { code: totpCode(secondSecret), label: 'Backup phone' });
    expect(added.headers.get('location')).toBe(`${PAGE}?done=added`);
    expect((await factorsOf('prover')).map((factor) => factor.label)).toEqual(['Authenticator app', 'Backup phone']);

    const withTwo = await browser.request(url(PAGE));
    const backup = (await factorsOf('prover')).find((factor) => factor.label === 'Backup phone')!;
    const removed = await post(browser, withTwo, `${PAGE}/remove`, { factor: backup.id });
    expect(removed.headers.get('location')).toBe(`${PAGE}?done=removed`);
    expect(auditOf('prover', 'mfa.removed')).toContainEqual(expect.objectContaining({ outcome: 'success', details: expect.objectContaining({ factorId: backup.id, kind: 'totp', via: 'account_security' }) }));
    const withOne = await browser.request(url(PAGE));
    expect(withOne.body).toContain('id="last-factor-warning"');
    expect(withOne.body).toContain('Payroll');
    const refused = await post(browser, withOne, `${PAGE}/remove`, { factor: first!.id });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatch(/role="alert"[^>]*>[^<]*Payroll/);
    expect((await factorsOf('prover')).map((factor) => factor.id)).toEqual([first!.id]);
    expect(auditOf('prover', 'mfa.removed')).toContainEqual(expect.objectContaining({ outcome: 'failure', reason: 'required_by_client' }));
  });

  it('new recovery codes are shown once and replace the old set only when confirmed: old codes stop working then', async () => {
    const browser = await signedIn('regen');
    const { codes: oldCodes } = await addFirstTotp(browser);
    const verify = await browser.request(url(`${PAGE}/verify`));
    expect((await post(browser, verify, '/verify/recovery', { code: oldCodes[0]! })).headers.get('location')).toBe(`${PAGE}?done=verified`);

    const list = await browser.request(url(PAGE));
    const unconfirmed = codesOf(await post(browser, list, `${PAGE}/recovery`));
    expect(unconfirmed).toHaveLength(10);
    // Not confirmed: the old set still works (and the unconfirmed one does not).
    const check = await browser.request(url(`${PAGE}/verify`));
    expect((await post(browser, check, '/verify/recovery', { code: unconfirmed[0]! })).status).toBe(401);
    expect((await post(browser, check, '/verify/recovery', { code: oldCodes[1]! })).status).toBe(303);

    const fresh = await post(browser, await browser.request(url(PAGE)), `${PAGE}/recovery`);
    const newCodes = codesOf(fresh);
    expect(newCodes.some((code) => oldCodes.includes(code))).toBe(false);
    const confirmed = await post(browser, fresh, '/recovery/confirm');
    expect(confirmed.headers.get('location')).toBe(`${PAGE}?done=recovery`);
    expect(auditOf('regen', 'mfa.recovery_regenerated')).toContainEqual(expect.objectContaining({ outcome: 'success', details: expect.objectContaining({ kind: 'recovery' }) }));
    expect(await broker.app.broker.mfa.recovery.remaining(localAccountId('regen'))).toBe(10);

    const after = await browser.request(url(`${PAGE}/verify`));
    const old = await post(browser, after, '/verify/recovery', { code: oldCodes[2]! });
    expect(old.status).toBe(401);
    expect((await post(browser, old, '/verify/recovery', { code: newCodes[0]! })).status).toBe(303);
    // A second confirm of the same set finds nothing pending.
    expect((await post(browser, fresh, '/recovery/confirm')).status).toBe(409);
  });

  it('every post needs the CSRF token of this browser session: missing or another session\'s token is refused and changes nothing', async () => {
    const browser = await signedIn('forger');
    await addFirstTotp(browser);
    const other = await signedIn('forger');
    const otherCsrf = /name="csrf" value="([^"]+)"/.exec((await other.request(url(`${PAGE}/verify`))).body)![1]!;
    const [factor] = await factorsOf('forger');
    for (const path of ['/remove', '/recovery', '/recovery/confirm', '/totp', '/passkey', '/verify/totp', '/verify/recovery', '/verify/webauthn']) {
      const missing = await browser.request(url(`${PAGE}${path}`), { form: { factor: factor!.id, code: '123456' } });
      expect(missing.status, `${path} without a token`).toBe(403);
      const forged = await browser.request(url(`${PAGE}${path}`), { form: { csrf: otherCsrf, factor: factor!.id, code: '123456' } });
      expect(forged.status, `${path} with another session's token`).toBe(403);
      expect(forged.body).not.toContain(otherCsrf);
    }
    expect(await factorsOf('forger')).toHaveLength(2);
  });

  it('a medium-risk session cannot enrol even after passing its step-up; an unfinished step-up is not a sign-in', async () => {
    const secret = await enrolTotp(broker, localAccountId('risky'));
    const auth = await authorize(broker.issuer, new Browser({ headers: ELSEWHERE }), TEST_CLIENT);
    const stepUp = await submitPassword(auth, auth.page, 'risky');
    expect(atFactorPage(stepUp)).toBe(true);
    await untilClient(auth, await auth.browser.submit(stepUp, '/mfa/totp', { code: totpCode(secret) }, TEST_CLIENT.redirectUri));
    const list = await auth.browser.request(url(PAGE));
    expect(list.status).toBe(200);
    expect(list.body).toContain('id="change-refused"');
    expect(list.body).not.toContain(`href="${PAGE}/totp"`);
    const csrf = /name="csrf" value="([^"]+)"/.exec((await auth.browser.request(url(`${PAGE}/verify`))).body)![1]!;
    for (const attempt of [auth.browser.request(url(`${PAGE}/totp`)), auth.browser.request(url(`${PAGE}/passkey`)), auth.browser.request(url(`${PAGE}/totp`), { form: { csrf, code: '123456' } })]) {
      expect((await attempt).status).toBe(403);
    }
    expect(auditOf('risky', 'mfa.enrolled')).toContainEqual(expect.objectContaining({ outcome: 'failure', reason: 'risk_medium' }));
    expect(await factorsOf('risky')).toHaveLength(1);

    // Medium risk, no factor: the factor page refuses enrolment, and the half-made session does not open the account page.
    const unfinished = await authorize(broker.issuer, new Browser({ headers: ELSEWHERE }), TEST_CLIENT);
    expect((await submitPassword(unfinished, unfinished.page, 'unfinished')).status).toBe(403);
    const page = await unfinished.browser.request(url(PAGE));
    expect(page.status).toBe(403);
    expect(page.body).toContain('role="alert"');
  });

  it('two browsers of one user: a factor added in one is what the other\'s step-up asks for', async () => {
    const first = await signedIn('twin');
    const second = await signedIn('twin');
    const { secret } = await addFirstTotp(first);
    const listed = await second.request(url(PAGE));
    expect(listed.body).toContain('Authenticator app');
    const stepUp = await authorize(broker.issuer, second, MFA_CLIENT);
    expect(hasForm(stepUp.page, '/mfa/totp')).toBe(true);
    expect(hasForm(stepUp.page, '/mfa/enrol/totp')).toBe(false);
    const done = await second.submit(stepUp.page, '/mfa/totp', { code: totpCode(secret, Date.now() + 30_000) }, MFA_CLIENT.redirectUri);
    expect((await exchange(stepUp, await untilClient(stepUp, done))).claims()).toMatchObject({ acr: ACR_MFA, amr: expect.arrayContaining(['otp', 'mfa']) });
  });

  it('the same confirm posted twice at the same moment enrols once', async () => {
    const browser = await signedIn('racer');
    const enrol = await browser.request(url(`${PAGE}/totp`));
    const code = totpCode(secretOf(enrol)!);
    const answers = await Promise.all([post(browser, enrol, '/account/security/totp', { code }), post(browser, enrol, '/account/security/totp', { code })]);
    // One enrols (its recovery codes follow); the other finds the enrolment taken (409), or, arriving after it, an account that now has a factor to prove first (303).
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
    expect([303, 409]).toContain(answers.find((answer) => answer.status !== 200)?.status);
    expect((await factorsOf('racer')).filter((factor) => factor.kind === 'totp')).toHaveLength(1);
    expect(auditOf('racer', 'mfa.enrolled').filter((record) => record.outcome === 'success')).toHaveLength(1);
    const codesPage = answers.find((answer) => answer.status === 200)!;
    const confirms = await Promise.all([post(browser, codesPage, '/recovery/confirm'), post(browser, codesPage, '/recovery/confirm')]);
    expect(confirms.map((answer) => answer.status).sort()).toEqual([303, 409]);
    expect((await factorsOf('racer')).filter((factor) => factor.kind === 'recovery')).toHaveLength(1);
  });

  it('malformed, oversized and foreign input is refused with a safe page', async () => {
    const browser = await signedIn('prober');
    const { secret, codes } = await addFirstTotp(browser);
    const verify = await browser.request(url(`${PAGE}/verify?next=https://evil.example/`));
    expect(forms(verify).every((form) => form.fields.next === '')).toBe(true);
    expect(forms(await browser.request(url(`${PAGE}/verify?next=constructor`))).every((form) => form.fields.next === '')).toBe(true);
    const malformed = await post(browser, verify, '/verify/totp', { code: 'abc<script>' });
    expect(malformed.status).toBe(401);
    expect(malformed.body).not.toContain('abc<script>');
    expect(auditOf('prober', 'mfa.verified')).toContainEqual(expect.objectContaining({ outcome: 'failure', reason: 'malformed' }));
    const csrf = forms(verify)[0]!.fields.csrf!;
    expect((await browser.request(url(`${PAGE}/verify/webauthn`), { form: { csrf, response: '{"id":' } })).status).toBe(401);
    expect((await post(browser, verify, '/verify/recovery', { code: 'x'.repeat(5000) })).status).toBe(401);
    expect((await post(browser, verify, '/verify/totp', { code: '1'.repeat(64 * 1024) })).status).toBe(413);
    const notAForm = await browser.request(url(`${PAGE}/verify/totp`), { body: '{"code":"123456"}', headers: { 'content-type': 'application/json' } });
    expect(notAForm.status).toBe(415);
    // A proof, then: a factor id of another account removes nothing; an HTML label is shown as text; an unknown notice shows none.
    const proved = await post(browser, verify, '/verify/totp', { code: totpCode(secret, Date.now() + 30_000) });
    expect(proved.headers.get('location')).toBe(`${PAGE}?done=verified`);
    // A `next` that names no add page (an inherited property name included) leads back to the list.
    expect((await post(browser, verify, '/verify/recovery', { code: codes[0]!, next: 'constructor' })).headers.get('location')).toBe(`${PAGE}?done=verified`);
    const [foreign] = await factorsOf('adder');
    const list = await browser.request(url(PAGE));
    expect((await post(browser, list, `${PAGE}/remove`, { factor: foreign?.id ?? 'none' })).status).toBe(400);
    expect(await factorsOf('adder')).toHaveLength(2);
    const enrol = await browser.request(url(`${PAGE}/totp`));
    const added = await post(browser, enrol, '/account/security/totp', { code: totpCode(secretOf(enrol)!), label: '<b>x</b>\u0000\u202e' });
    expect(added.status).toBe(303);
    const shown = await browser.request(url(`${PAGE}?done=<script>`));
    expect(shown.body).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(shown.body).not.toContain('<b>x</b>');
    expect(shown.body).not.toContain('role="status"');
  });
});

describe('account security page without a sign-in address or a client requiring MFA', () => {
  let broker: TestBroker;
  /** The broker's clock runs this far ahead of the test's (a proof growing old without waiting). */
  let ahead = 0;

  beforeAll(async () => {
    broker = await startBroker({
      now: () => Date.now() + ahead,
      providers: [await localAccounts(['solo', 'doubler', 'locked', 'stale'])],
      config: { clients: [{ clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], skipConsent: true }] },
    });
  });

  afterAll(async () => {
    await broker?.close();
  });

  const url = (path: string) => `${broker.issuer}${path}`;

  async function signedIn(username: string): Promise<Browser> {
    const auth = await authorize(broker.issuer, new Browser(), TEST_CLIENT);
    await untilClient(auth, await submitPassword(auth, auth.page, username));
    return auth.browser;
  }

  /** Adds a first TOTP and confirms its codes; proves it on the verify page (next time step); answers the list. */
  async function withProvedTotp(browser: Browser): Promise<Page> {
    const enrol = await browser.request(url(`${PAGE}/totp`));
    const secret = secretOf(enrol)!;
    const codesPage = await browser.request(url(`${PAGE}/totp`), { form: { csrf: forms(enrol)[0]!.fields.csrf!, code: totpCode(secret) } });
    await browser.request(url(`${PAGE}/recovery/confirm`), { form: { csrf: forms(codesPage)[0]!.fields.csrf! } });
    const verify = await browser.request(url(`${PAGE}/verify`));
    const proved = await browser.request(url(`${PAGE}/verify/totp`), { form: { ...forms(verify)[0]!.fields, code: totpCode(secret, Date.now() + 30_000) } });
    expect(proved.headers.get('location')).toBe(`${PAGE}?done=verified`);
    return browser.request(url(PAGE));
  }

  const removeForm = (page: Page) => forms(page).find((form) => form.action.endsWith('/remove'))!;

  it('a browser without a session gets a page asking it to sign in through an application', async () => {
    const page = await new Browser().request(url(PAGE));
    expect(page.status).toBe(401);
    expect(page.body).toMatch(/role="alert"[^>]*>[^<]*Sign in through one of your applications/);
  });

  it('the last authenticator goes after a warning, and its recovery codes with it', async () => {
    const browser = await signedIn('solo');
    const list = await withProvedTotp(browser);
    expect(list.body).toContain('id="last-factor-warning"');
    const removed = await browser.request(url(`${PAGE}/remove`), { form: removeForm(list).fields });
    expect(removed.headers.get('location')).toBe(`${PAGE}?done=removed`);
    expect(await broker.app.broker.mfa.credentials.list(localAccountId('solo'))).toEqual([]);
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'mfa.removed', outcome: 'success', accountId: localAccountId('solo'), details: expect.objectContaining({ removed: 2, lastFactor: 'true' }) }));
    // Without factors, the low-risk session may add one again.
    expect((await browser.request(url(`${PAGE}/totp`))).status).toBe(200);
  });

  it('a proof counts for mfa.accountSecurity.reauthSeconds (300 s): after that the page asks for a new one', async () => {
    const browser = await signedIn('stale');
    await withProvedTotp(browser);
    try {
      ahead = 299_000;
      expect((await browser.request(url(`${PAGE}/passkey`))).status).toBe(200);
      ahead = 301_000;
      const stale = await browser.request(url(`${PAGE}/passkey`));
      expect(stale.status).toBe(303);
      expect(stale.headers.get('location')).toBe(`${PAGE}/verify?next=passkey`);
    } finally {
      ahead = 0;
    }
  });

  it('a locked account opens nothing on the page', async () => {
    const browser = await signedIn('locked');
    expect((await browser.request(url(PAGE))).status).toBe(200);
    await broker.app.broker.locks.lock(localAccountId('locked'), 'admin');
    const page = await browser.request(url(`${PAGE}/totp`));
    expect(page.status).toBe(403);
    expect(page.body).toContain('role="alert"');
  });

  it('two removals of one factor at the same moment remove it once', async () => {
    const browser = await signedIn('doubler');
    const list = await withProvedTotp(browser);
    const { fields } = removeForm(list);
    const answers = await Promise.all([browser.request(url(`${PAGE}/remove`), { form: fields }), browser.request(url(`${PAGE}/remove`), { form: fields })]);
    expect(answers.filter((answer) => answer.status === 303)).toHaveLength(1);
    expect([400, 409]).toContain(answers.find((answer) => answer.status !== 303)?.status);
    expect(broker.audit.filter((record) => record.event === 'mfa.removed' && record.outcome === 'success' && record.accountId === localAccountId('doubler'))).toHaveLength(1);
  });
});
