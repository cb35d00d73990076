// Every sign-in path of the demo in Chromium, at desktop and phone widths, in English and Chinese: axe-clean, no overflow, strict CSP, a way on from every end.
import type { Browser, Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, DESKTOP, launchChromium, newTestContext, overflowsHorizontally, PHONE, screenshot, type TestContext } from '../helpers/chromium.js';
import { catalog, LANGUAGES, startDemoWorld, TEST_USER, type Catalog, type DemoWorld } from './demo-world.js';

let browser: Browser;
let world: DemoWorld;

beforeAll(async () => {
  browser = await launchChromium();
  world = await startDemoWorld();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await world?.close();
});

const continueWith = (t: Catalog, provider: string) => t.continueWith.replace('{provider}', provider);

/** What every broker page must be: axe finds nothing, no sideways scrolling, a title with the product name, a language switch. */
async function checkPage(tc: TestContext, name: string): Promise<void> {
  const { page } = tc;
  await page.waitForLoadState('load');
  await screenshot(page, name);
  expect(await axeViolations(page), `axe on ${name} (${page.url()})`).toEqual([]);
  expect(await overflowsHorizontally(page), `horizontal overflow on ${name}`).toBe(false);
  expect(await page.title()).toMatch(/\S · Vestibule$/);
  expect(await page.locator('nav.lang a').count()).toBe(LANGUAGES.length);
}

/** The upstream's own pages (demo IdPs): axe-clean and phone-width too. */
async function checkUpstreamPage(tc: TestContext, name: string): Promise<void> {
  await tc.page.waitForLoadState('load');
  await screenshot(tc.page, name);
  expect(await axeViolations(tc.page), `axe on ${name} (${tc.page.url()})`).toEqual([]);
  expect(await overflowsHorizontally(tc.page), `horizontal overflow on ${name}`).toBe(false);
}

async function openChoosePage(tc: TestContext, t: Catalog, label: string): Promise<void> {
  await tc.page.goto(`${world.broker.url}/demo`);
  await checkPage(tc, `${label}-demo-home`);
  await tc.page.getByRole('link', { name: t.signIn, exact: true }).click();
  await tc.page.getByRole('heading', { name: t.chooseTitle }).waitFor();
  await expectLocator(tc.page.locator('p.or')).toHaveText(t.or);
  await checkPage(tc, `${label}-choose`);
}

async function consentAndLand(tc: TestContext, t: Catalog, label: string, who: string): Promise<void> {
  const { page } = tc;
  await page.getByRole('heading', { name: t.consentTitle }).waitFor();
  const main = page.locator('main');
  expect(await main.textContent()).toContain(who);
  expect(await main.textContent()).toContain(new URL(world.broker.url).host);
  expect(await page.getByRole('link', { name: t.notYou }).getAttribute('href')).toMatch(/^\/auth\?.*prompt=login/);
  await checkPage(tc, `${label}-consent`);
  await page.getByRole('button', { name: t.allow }).click();
  await page.waitForURL(`${world.broker.url}/demo`);
  await page.locator('dl.card').waitFor();
  expect(await page.locator('dl.card').textContent()).toContain(who);
  // The session's timeline: the broker sign-in, the federated session with its provider, what comes next.
  const timeline = (await page.locator('ol.timeline').textContent()) ?? '';
  for (const key of ['signedIn', 'sessionStarted', 'nextCheck', 'idTokenExpires']) expect(timeline, key).toContain(t.timeline[key]);
  await checkPage(tc, `${label}-signed-in`);
}

async function logoutAndSeeSignedOut(tc: TestContext, t: Catalog, label: string): Promise<void> {
  const { page } = tc;
  await page.getByRole('link', { name: t.logoutYes }).click();
  await page.getByRole('heading', { name: t.logoutTitle }).waitFor();
  // Both buttons sit inside the form that carries oidc-provider's xsrf value.
  expect(await page.locator('form button').count()).toBe(2);
  await checkPage(tc, `${label}-logout-confirm`);
  await page.locator('form').getByRole('button', { name: t.logoutYes }).click();
  await page.waitForURL(`${world.broker.url}/demo`);
  await expectLocator(page.getByRole('status')).toHaveText(t.demoSignedOut);
  await checkPage(tc, `${label}-signed-out`);
}

async function expectClean(tc: TestContext): Promise<void> {
  expect(tc.blocked, 'requests to non-loopback addresses').toEqual([]);
  expect(tc.cspViolations, 'CSP violations').toEqual([]);
  await tc.context.close();
}

/** Waits for the locator's first element and compares its text (playwright-core has no auto-retrying expect). */
function expectLocator(locator: Locator) {
  return {
    async toHaveText(text: string) {
      await locator.first().waitFor();
      expect((await locator.first().textContent())?.trim()).toBe(text);
    },
  };
}

for (const viewport of [DESKTOP, PHONE]) {
  for (const lang of LANGUAGES) {
    const t = catalog(lang);
    const label = `${viewport.name}-${lang}`;
    describe(`${viewport.name} (${viewport.width}px), ${lang}`, () => {
      it('local sign-in: a wrong password keeps the username, announces the error and focuses Password; then consent, the claims card, and logout with the signed-out message', async () => {
        const tc = await newTestContext(browser, viewport, lang);
        const { page } = tc;
        await openChoosePage(tc, t, `${label}-local`);
        await page.getByRole('button', { name: continueWith(t, 'Test accounts') }).click();
        await page.getByRole('heading', { name: t.loginTitle }).waitFor();
        await checkPage(tc, `${label}-local-login`);
        await page.getByLabel(t.username).fill(TEST_USER.username);
        await page.getByLabel(t.password).fill('not the password');
        await page.getByRole('button', { name: t.signIn, exact: true }).click();
        await expectLocator(page.getByRole('alert')).toHaveText(t.errors.invalid_credentials!);
        expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
        expect(await page.getByLabel(t.username).inputValue()).toBe(TEST_USER.username);
        expect(await page.getByLabel(t.password).getAttribute('aria-describedby')).toBe('login-error');
        await checkPage(tc, `${label}-local-login-failed`);
        await page.getByLabel(t.password).fill(TEST_USER.password);
        await page.getByRole('button', { name: t.signIn, exact: true }).click();
        await consentAndLand(tc, t, `${label}-local`, TEST_USER.email);
        await logoutAndSeeSignedOut(tc, t, `${label}-local`);
        await expectClean(tc);
      });

      it('federated OIDC: the demo upstream signs in, and logout needs no second confirmation there', async () => {
        const tc = await newTestContext(browser, viewport, lang);
        const { page } = tc;
        await openChoosePage(tc, t, `${label}-oidc`);
        await page.getByRole('button', { name: continueWith(t, 'Demo OIDC IdP') }).click();
        await page.getByLabel('Username').waitFor();
        await checkUpstreamPage(tc, `${label}-oidc-upstream-login`);
        await page.getByLabel('Username').fill('alice');
        await page.getByLabel('Password').fill('alice-password');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await consentAndLand(tc, t, `${label}-oidc`, 'alice@demo.example');
        const visited: string[] = [];
        page.on('framenavigated', (frame) => visited.push(frame.url()));
        await logoutAndSeeSignedOut(tc, t, `${label}-oidc`);
        // The upstream was visited (its session ended) without a page waiting for a click.
        expect(visited.some((url) => url.includes('/session/end'))).toBe(true);
        await expectClean(tc);
      });

      it('federated SAML found by email (Redirect binding): the IdP answers with an automatic POST, no Continue click', async () => {
        const tc = await newTestContext(browser, viewport, lang);
        const { page } = tc;
        await openChoosePage(tc, t, `${label}-saml`);
        await page.getByLabel(t.workEmail).fill('sam@saml.demo');
        await page.getByRole('button', { name: t.continue, exact: true }).click();
        await page.getByLabel('Username').waitFor();
        await checkUpstreamPage(tc, `${label}-saml-idp-login`);
        await page.getByLabel('Username').fill('sam');
        await page.getByLabel('Password').fill('sam-demo-password');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await consentAndLand(tc, t, `${label}-saml`, 'sam@saml.demo');
        await logoutAndSeeSignedOut(tc, t, `${label}-saml`);
        await expectClean(tc);
      });

      it('Cancel on the choose page and Deny on the consent page both land on the app with a message and a way to sign in again', async () => {
        const tc = await newTestContext(browser, viewport, lang);
        const { page } = tc;
        await openChoosePage(tc, t, `${label}-cancel`);
        await page.getByRole('link', { name: t.cancel }).click();
        await page.waitForURL(`${world.broker.url}/demo?outcome=cancelled`);
        await expectLocator(page.getByRole('alert')).toHaveText(t.demoCancelled);
        await checkPage(tc, `${label}-cancelled`);
        await page.getByRole('link', { name: t.demoSignInAgain }).click();
        await page.getByRole('button', { name: continueWith(t, 'Test accounts') }).click();
        await page.getByLabel(t.username).fill(TEST_USER.username);
        await page.getByLabel(t.password).fill(TEST_USER.password);
        await page.getByRole('button', { name: t.signIn, exact: true }).click();
        await page.getByRole('heading', { name: t.consentTitle }).waitFor();
        await page.getByRole('button', { name: t.deny }).click();
        await page.waitForURL(`${world.broker.url}/demo?outcome=cancelled`);
        await expectLocator(page.getByRole('alert')).toHaveText(t.demoCancelled);
        expect(await page.getByRole('link', { name: t.demoSignInAgain }).count()).toBe(1);
        await expectClean(tc);
      });
    });
  }
}

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

  it('"not you?" on the consent page starts the same request again with a fresh sign-in, and the other account lands in the app', async () => {
    const t = catalog('en');
    const tc = await newTestContext(browser, DESKTOP, 'en');
    const { page } = tc;
    await openChoosePage(tc, t, 'not-you');
    await page.getByRole('button', { name: continueWith(t, 'Demo OIDC IdP') }).click();
    await page.getByLabel('Username').fill('bob');
    await page.getByLabel('Password').fill('bob-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: t.consentTitle }).waitFor();
    expect(await page.locator('main').textContent()).toContain('bob@demo.example');
    await page.getByRole('link', { name: t.notYou }).click();
    await page.getByRole('heading', { name: t.chooseTitle }).waitFor();
    await page.getByRole('button', { name: continueWith(t, 'Test accounts') }).click();
    await page.getByLabel(t.username).fill(TEST_USER.username);
    await page.getByLabel(t.password).fill(TEST_USER.password);
    await page.getByRole('button', { name: t.signIn, exact: true }).click();
    await consentAndLand(tc, t, 'not-you', TEST_USER.email);
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
});
