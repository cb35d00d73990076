// The steps the browser tests share: open the demo's sign-in, sign in as the test user, consent and land, sign out, and the checks every page must pass.
import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { axeViolations, focusRingVisible, overflowsHorizontally, screenshot, type TestContext } from '../helpers/chromium.js';
import { LANGUAGES, TEST_USER, type Catalog } from './demo-world.js';

export const continueWith = (t: Catalog, provider: string) => t.continueWith.replace('{provider}', provider);

/** From the choose page: the test accounts, the test user's name and password, sign in. */
export async function signInAsTestUser(page: Page, t: Catalog): Promise<void> {
  await page.getByRole('button', { name: continueWith(t, 'Test accounts') }).click();
  await page.getByLabel(t.username).fill(TEST_USER.username);
  await page.getByLabel(t.password).fill(TEST_USER.password);
  await page.getByRole('button', { name: t.signIn, exact: true }).click();
}

/** Waits for the locator's first element and compares its text (playwright-core has no auto-retrying expect). */
export function expectLocator(locator: Locator) {
  return {
    async toHaveText(text: string) {
      await locator.first().waitFor();
      expect((await locator.first().textContent())?.trim()).toBe(text);
    },
  };
}

/** Nothing left the loopback, no CSP violation was reported; closes the context. */
export async function expectClean(tc: TestContext): Promise<void> {
  expect(tc.blocked, 'requests to non-loopback addresses').toEqual([]);
  expect(tc.cspViolations, 'CSP violations').toEqual([]);
  await tc.context.close();
}

/** The flows against one demo world; `base` is read when a flow runs (the world starts in beforeAll). */
export function demoFlows(base: () => string) {
  /** What every broker page must be: axe finds nothing, no sideways scrolling, a title with the product name, a language switch. */
  async function checkPage(tc: TestContext, name: string): Promise<void> {
    const { page } = tc;
    await page.waitForLoadState('load');
    await screenshot(page, name);
    expect(await axeViolations(page), `axe on ${name} (${page.url()})`).toEqual([]);
    expect(await overflowsHorizontally(page), `horizontal overflow on ${name}`).toBe(false);
    expect(await page.title()).toMatch(/\S · Vestibule$/);
    expect(await page.locator('nav.lang a').count()).toBe(LANGUAGES.length);
    expect(await focusRingVisible(page), `visible focus ring on ${name}`).toBe(true);
  }

  /** The upstream's own pages (demo IdPs): axe-clean and phone-width too. */
  async function checkUpstreamPage(tc: TestContext, name: string): Promise<void> {
    await tc.page.waitForLoadState('load');
    await screenshot(tc.page, name);
    expect(await axeViolations(tc.page), `axe on ${name} (${tc.page.url()})`).toEqual([]);
    expect(await overflowsHorizontally(tc.page), `horizontal overflow on ${name}`).toBe(false);
  }

  async function openChoosePage(tc: TestContext, t: Catalog, label: string): Promise<void> {
    await tc.page.goto(`${base()}/demo`);
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
    expect(await main.textContent()).toContain(new URL(base()).host);
    expect(await page.getByRole('link', { name: t.notYou }).getAttribute('href')).toMatch(/^\/auth\?.*prompt=login/);
    await checkPage(tc, `${label}-consent`);
    await page.getByRole('button', { name: t.allow }).click();
    await page.waitForURL(`${base()}/demo`);
    await page.locator('dl.card').waitFor();
    expect(await page.locator('dl.card').textContent()).toContain(who);
    // The session's timeline: the broker sign-in, the federated session with its provider, what comes next.
    const timeline = (await page.locator('ol.timeline').textContent()) ?? '';
    for (const key of ['signedIn', 'sessionStarted', 'nextCheck', 'idTokenExpires', 'audit']) expect(timeline, key).toContain(t.timeline[key]);
    // The session's own audit records are on it: at least this sign-in and its token.
    expect(timeline).toContain('login.success · success');
    expect(timeline).toContain('token.issued · success');
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
    await page.waitForURL(`${base()}/demo`);
    await expectLocator(page.getByRole('status')).toHaveText(t.demoSignedOut);
    await checkPage(tc, `${label}-signed-out`);
  }

  return { checkPage, checkUpstreamPage, openChoosePage, consentAndLand, logoutAndSeeSignedOut };
}
