// Every sign-in path of the demo in Chromium, at desktop and phone widths, in English and Chinese: axe-clean, no overflow, strict CSP, a way on from every end.
import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { DESKTOP, newTestContext, PHONE } from '../helpers/chromium.js';
import { catalog, LANGUAGES, useDemoWorld, TEST_USER, type DemoWorld } from './demo-world.js';
import { continueWith, demoFlows, expectClean, expectLocator, signInAsTestUser } from './flows.js';

let browser: Browser;
let world: DemoWorld;

useDemoWorld((started, demo) => {
  browser = started;
  world = demo;
});

const { checkPage, checkUpstreamPage, openChoosePage, consentAndLand, logoutAndSeeSignedOut } = demoFlows(() => world.broker.url);

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
        await signInAsTestUser(page, t);
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
