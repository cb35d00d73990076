// The demo's other pages in Chromium: SAML with the POST binding, "not you?", discovery errors, the language switch, ui_locales, error pages, a keyboard-only sign-in, the account security pages, the provider-down page.
import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DESKTOP, newTestContext, PHONE } from '../helpers/chromium.js';
import { localAccountId, totpCode } from '../helpers/step-up.js';
import { localProvider, startBroker, TEST_CLIENT } from '../helpers/broker.js';
import { closedPortUrl } from '../helpers/upstream-oidc.js';
import { catalog, useDemoWorld, TEST_USER, type DemoWorld } from './demo-world.js';
import { continueWith, demoFlows, expectClean, expectLocator, signInAsTestUser } from './flows.js';

let browser: Browser;
let world: DemoWorld;

useDemoWorld((started, demo) => {
  browser = started;
  world = demo;
});

const { checkPage, checkUpstreamPage, openChoosePage, consentAndLand } = demoFlows(() => world.broker.url);

describe('the choose page, the language and the error pages', () => {
  it('federated SAML with the POST binding: the AuthnRequest and the answer both post themselves', async () => {
    const t = catalog('zh-CN');
    const tc = await newTestContext(browser, PHONE, 'zh-CN');
    await openChoosePage(tc, t, 'saml-post');
    await tc.page.getByRole('button', { name: continueWith(t, 'Demo SAML IdP (POST)') }).click();
    await tc.page.getByLabel('Username').waitFor();
    await checkUpstreamPage(tc, 'saml-post-idp-login');
    await tc.page.getByLabel('Username').fill('ada');
    await tc.page.getByLabel('Password').fill('wrong');
    await tc.page.getByRole('button', { name: 'Sign in' }).click();
    await expectLocator(tc.page.getByRole('alert')).toHaveText('Wrong username or password.');
    expect(await tc.page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('password');
    await tc.page.getByLabel('Password').fill('ada-demo-password');
    await tc.page.getByRole('button', { name: 'Sign in' }).click();
    await consentAndLand(tc, t, 'saml-post', 'ada@saml.demo');
    await expectClean(tc);
  });

  it('"not you?" on the consent page starts the same request again with a fresh sign-in, and another account (federated) lands in the app', async () => {
    const t = catalog('en');
    const tc = await newTestContext(browser, DESKTOP, 'en');
    const { page } = tc;
    await openChoosePage(tc, t, 'not-you');
    await signInAsTestUser(page, t);
    await page.getByRole('heading', { name: t.consentTitle }).waitFor();
    expect(await page.locator('main').textContent()).toContain(TEST_USER.email);
    await page.getByRole('link', { name: t.notYou }).click();
    await page.getByRole('heading', { name: t.chooseTitle }).waitFor();
    await page.getByRole('button', { name: continueWith(t, 'Demo OIDC IdP') }).click();
    await page.getByLabel('Username').fill('bob');
    await page.getByLabel('Password').fill('bob-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await consentAndLand(tc, t, 'not-you', 'bob@demo.example');
    await expectClean(tc);
  });

  it('an email no provider serves: the error is announced, tied to the field, and the typed email stays', async () => {
    const t = catalog('en');
    const tc = await newTestContext(browser, DESKTOP, 'en');
    await openChoosePage(tc, t, 'hrd-unknown');
    await tc.page.getByLabel(t.workEmail).fill('someone@unknown.example');
    await tc.page.getByRole('button', { name: t.continue, exact: true }).click();
    await expectLocator(tc.page.getByRole('alert')).toHaveText(t.errors.no_provider_for_domain!);
    expect(await tc.page.getByLabel(t.workEmail).inputValue()).toBe('someone@unknown.example');
    expect(await tc.page.getByLabel(t.workEmail).getAttribute('aria-describedby')).toBe('choose-error');
    await checkPage(tc, 'hrd-unknown-error');
    await expectClean(tc);
  });

  it('the language switch changes the page and is remembered for the next pages', async () => {
    const en = catalog('en');
    const zh = catalog('zh-CN');
    const tc = await newTestContext(browser, PHONE, 'en');
    const { page } = tc;
    await openChoosePage(tc, en, 'switch');
    await page.getByRole('link', { name: zh.languageName }).click();
    await page.getByRole('heading', { name: zh.chooseTitle }).waitFor();
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    await checkPage(tc, 'switch-zh');
    await page.getByRole('button', { name: continueWith(zh, 'Test accounts') }).click();
    await page.getByRole('heading', { name: zh.loginTitle }).waitFor();
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    await page.getByRole('link', { name: en.languageName }).click();
    await page.getByRole('heading', { name: en.loginTitle }).waitFor();
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await expectClean(tc);
  });

  it('ui_locales from the application picks Chinese in an English browser', async () => {
    const zh = catalog('zh-CN');
    const tc = await newTestContext(browser, DESKTOP, 'en');
    const query = new URLSearchParams({
      client_id: 'test-rp',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'http://127.0.0.1:1/cb',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      ui_locales: 'fr zh-CN en',
    });
    await tc.page.goto(`${world.broker.url}/auth?${query}`);
    await tc.page.getByRole('heading', { name: zh.loginTitle }).waitFor();
    expect(await tc.page.getAttribute('html', 'lang')).toBe('zh-CN');
    await checkPage(tc, 'ui-locales-zh');
    await expectClean(tc);
  });

  it('an unknown sign-in: the message, what to do next, and the support reference', async () => {
    const t = catalog('zh-CN');
    const tc = await newTestContext(browser, PHONE, 'zh-CN');
    const response = await tc.page.goto(`${world.broker.url}/interaction/no-such-interaction`);
    expect(response?.status()).toBe(400);
    await expectLocator(tc.page.getByRole('alert')).toHaveText(t.errors.interaction_expired!);
    expect(await tc.page.locator('main').textContent()).toContain(t.nextStep);
    expect(await tc.page.locator('main').textContent()).toMatch(new RegExp(`${t.reference}: \\S{8,}`));
    await checkPage(tc, 'error-unknown-interaction');
    await expectClean(tc);
  });

  it('a sign-in opened in another browser: the error page links back to the application that started it', async () => {
    const t = catalog('en');
    const first = await newTestContext(browser, DESKTOP, 'en');
    await openChoosePage(first, t, 'other-browser-start');
    const interactionUrl = first.page.url();
    await expectClean(first);
    const other = await newTestContext(browser, PHONE, 'en');
    const response = await other.page.goto(interactionUrl);
    expect(response?.status()).toBe(400);
    await expectLocator(other.page.getByRole('alert')).toHaveText(t.errors.interaction_expired!);
    const back = other.page.getByRole('link', { name: t.backTo.replace('{app}', 'Vestibule demo app') });
    expect(await back.getAttribute('href')).toBe('/demo/');
    await checkPage(other, 'error-other-browser');
    await back.click();
    await other.page.getByRole('link', { name: t.signIn, exact: true }).waitFor();
    await expectClean(other);
  });

  it("an application's bad request: a link back to the application's registered address", async () => {
    const t = catalog('en');
    const tc = await newTestContext(browser, DESKTOP, 'en');
    const query = new URLSearchParams({ client_id: 'test-rp', response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:1/not-registered' });
    await tc.page.goto(`${world.broker.url}/auth?${query}`);
    const back = tc.page.getByRole('link', { name: t.backTo.replace('{app}', 'Test RP') });
    expect(await back.getAttribute('href')).toBe('http://127.0.0.1:1/');
    await checkPage(tc, 'error-bad-redirect-uri');
    await expectClean(tc);
  });

  it('keyboard only: Tab and Enter sign in with the local account, with a visible focus ring on the way', async () => {
    const t = catalog('en');
    const tc = await newTestContext(browser, DESKTOP, 'en');
    const { page } = tc;
    await page.goto(`${world.broker.url}/demo`);
    const outline = () => page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    while ((await page.evaluate(() => document.activeElement?.textContent?.trim())) !== t.signIn) await page.keyboard.press('Tab');
    expect(await outline()).not.toBe('none');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: t.chooseTitle }).waitFor();
    // The email field has focus; Tab to the local provider's button.
    while ((await page.evaluate(() => document.activeElement?.textContent?.trim())) !== continueWith(t, 'Test accounts')) await page.keyboard.press('Tab');
    expect(await outline()).not.toBe('none');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: t.loginTitle }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('username');
    await page.keyboard.type(TEST_USER.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type(TEST_USER.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: t.consentTitle }).waitFor();
    while ((await page.evaluate(() => document.activeElement?.textContent?.trim())) !== t.allow) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${world.broker.url}/demo`);
    expect(await page.locator('dl.card').textContent()).toContain(TEST_USER.email);
    await expectClean(tc);
  });

  for (const [viewport, lang] of [[DESKTOP, 'en'], [PHONE, 'zh-CN']] as const) {
    it(`the account security pages (${lang}): linked from the demo, an authenticator app added from the shown key, recovery codes once, the list, the verify page`, async () => {
      await world.broker.app.broker.mfa.credentials.removeAll(localAccountId(TEST_USER.username));
      const t = catalog(lang);
      const a = JSON.parse(readFileSync(join(process.cwd(), 'views', 'i18n', `${lang}.json`), 'utf8')) as { account: Record<string, string>; mfa: Record<string, string>; errors: Record<string, string> };
      const label = `${viewport.name}-${lang}-account`;
      const tc = await newTestContext(browser, viewport, lang);
      const { page } = tc;
      await openChoosePage(tc, t, label);
      await signInAsTestUser(page, t);
      await consentAndLand(tc, t, label, TEST_USER.email);
      await page.getByRole('link', { name: a.account.link }).click();
      await page.getByRole('heading', { name: a.account.title }).waitFor();
      await checkPage(tc, `${label}-empty`);
      await page.getByRole('link', { name: a.account.addTotp }).click();
      await page.getByRole('heading', { name: a.account.addTotp }).waitFor();
      expect(await page.getByRole('img', { name: a.mfa.qrAlt }).count()).toBe(1);
      await checkPage(tc, `${label}-totp`);
      await page.getByLabel(a.account.labelField!).fill('Phone');
      await page.getByLabel(a.mfa.totpLabel!).fill(totpCode(await page.getByLabel(a.mfa.manualKey!).inputValue()));
      await page.getByRole('button', { name: a.mfa.enrolTotp }).click();
      await page.getByRole('heading', { name: a.mfa.recoveryTitle }).waitFor();
      expect(await page.locator('#recovery-codes li').count()).toBe(10);
      await checkPage(tc, `${label}-recovery`);
      await page.getByRole('button', { name: a.account.recoverySaved }).click();
      await expectLocator(page.getByRole('status')).toHaveText(a.account.done_added!);
      expect(await page.locator('#factors').textContent()).toContain('Phone');
      await checkPage(tc, `${label}-listed`);
      await page.getByRole('link', { name: a.account.verifyButton }).click();
      await page.getByRole('heading', { name: a.mfa.title }).waitFor();
      await page.getByLabel(a.mfa.totpLabel!).fill('000000');
      await page.getByRole('button', { name: a.mfa.verify }).click();
      await expectLocator(page.getByRole('alert')).toHaveText(a.errors.mfa_invalid!);
      expect(await page.getByLabel(a.mfa.totpLabel!).getAttribute('aria-invalid')).toBe('true');
      await checkPage(tc, `${label}-verify-error`);
      await expectClean(tc);
    }, 120_000);
  }

  for (const [viewport, lang] of [[DESKTOP, 'en'], [PHONE, 'zh-CN']] as const) {
    it(`an upstream that is down (${lang}): a 503 page naming the provider, the other providers offered, one of them signs in`, async () => {
      const t = catalog(lang);
      const down = JSON.parse(readFileSync(join(process.cwd(), 'views', 'i18n', `${lang}.json`), 'utf8')).upstreamDown as Record<string, string>;
      const broker = await startBroker({
        providers: [await localProvider(), { id: 'down', type: 'oidc', name: 'Acme SSO', domains: [], config: { issuer: await closedPortUrl(), clientId: 'broker', clientSecret: 'broker-secret', allowInsecureRequests: true } }],
      });
      try {
        const tc = await newTestContext(browser, viewport, lang);
        const { page } = tc;
        const query = new URLSearchParams({ client_id: TEST_CLIENT.clientId, response_type: 'code', scope: 'openid', redirect_uri: TEST_CLIENT.redirectUri, idp_hint: 'down', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
        const response = await page.goto(`${broker.url}/auth?${query}`);
        expect(response?.status()).toBe(503);
        expect(Number(response?.headers()['retry-after'])).toBeGreaterThanOrEqual(1);
        await page.getByRole('heading', { name: down.title!.replace('{provider}', 'Acme SSO') }).waitFor();
        await expectLocator(page.getByRole('alert')).toHaveText(down.explain!.replace('{provider}', 'Acme SSO'));
        expect(await page.getByRole('button', { name: down.retry!.replace('{provider}', 'Acme SSO') }).count()).toBe(1);
        await checkPage(tc, `${viewport.name}-${lang}-upstream-down`);
        await page.getByRole('button', { name: continueWith(t, 'Test accounts') }).click();
        await page.getByRole('heading', { name: t.loginTitle }).waitFor();
        await expectClean(tc);
      } finally {
        await broker.close();
      }
    });
  }
});
