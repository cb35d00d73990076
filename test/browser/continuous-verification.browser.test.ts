// The demo's continuous verification in Chromium: a newcomer signs in through the demo OIDC upstream, checks the session, revokes the user at the upstream, checks again, and watches the session end and the app's token die; a SAML session's check marks it and the app's next sign-in makes a passive round trip through the IdP.
import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { DESKTOP, newTestContext } from '../helpers/chromium.js';
import { catalog, useDemoWorld, type DemoWorld } from './demo-world.js';
import { continueWith, demoFlows, expectClean, expectLocator } from './flows.js';

let browser: Browser;
let world: DemoWorld;

useDemoWorld((started, demo) => {
  browser = started;
  world = demo;
});

const { checkPage, checkUpstreamPage, openChoosePage, consentAndLand } = demoFlows(() => world.broker.url);

interface VerifyTexts {
  tokenAccepted: string;
  tokenRefused: string;
  checkNow: string;
  revoke: string;
  checked: string;
  outcomes: Record<string, string>;
  reauthPending: string;
  reauthContinue: string;
}

describe('continuous verification in the demo', () => {
  for (const lang of ['en', 'zh-CN'] as const) {
    it(`${lang}: check now confirms the session upstream; after "revoke" at the upstream, check now ends it and the app's token is refused`, async () => {
      const t = catalog(lang);
      const v = (t as unknown as { demoVerify: VerifyTexts }).demoVerify;
      const tc = await newTestContext(browser, DESKTOP, lang);
      const { page } = tc;
      const user = lang === 'en' ? { name: 'alice', password: 'alice-password', email: 'alice@demo.example' } : { name: 'bob', password: 'bob-password', email: 'bob@demo.example' };
      await openChoosePage(tc, t, `cv-${lang}`);
      await page.getByRole('button', { name: continueWith(t, 'Demo OIDC IdP') }).click();
      await page.getByLabel('Username').fill(user.name);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await consentAndLand(tc, t, `cv-${lang}`, user.email);
      await expectLocator(page.locator('#token-status')).toHaveText(v.tokenAccepted);

      // Check now: the upstream confirms the session (a refresh grant there), and the timeline shows it.
      await page.getByRole('button', { name: v.checkNow }).click();
      await expectLocator(page.getByRole('status')).toHaveText(`${v.checked} ${v.outcomes.verified}`);
      expect(await page.locator('ol.timeline').textContent()).toContain('session.reverified · success');
      await checkPage(tc, `cv-${lang}-checked`);

      // The upstream's administrator revokes the user.
      await page.getByRole('link', { name: v.revoke }).click();
      await page.getByRole('button', { name: `Revoke ${user.name}` }).waitFor();
      await checkUpstreamPage(tc, `cv-${lang}-upstream-users`);
      await page.getByRole('button', { name: `Revoke ${user.name}` }).click();
      await page.getByRole('button', { name: `Restore ${user.name}` }).waitFor();

      // Back in the app: check now ends the session, and the app's access token is refused from then on.
      await page.goto(`${world.broker.url}/demo`);
      await page.getByRole('button', { name: v.checkNow }).click();
      await expectLocator(page.getByRole('status')).toHaveText(`${v.checked} ${v.outcomes.ended}`);
      await expectLocator(page.locator('#token-status')).toHaveText(v.tokenRefused);
      expect(await page.locator('#token-status').getAttribute('role')).toBe('alert');
      await checkPage(tc, `cv-${lang}-ended`);
      expect(world.broker.audit.some((e) => e.event === 'session.ended' && e.reason === 'upstream_revoked' && e.connectorId === 'demo-oidc')).toBe(true);
      await expectClean(tc);
    });
  }

  for (const lang of ['en', 'zh-CN'] as const) {
    it(`${lang}: check now on a SAML session marks it; the app's next sign-in goes through the IdP with IsPassive, no page, and the timeline says so`, async () => {
      const t = catalog(lang);
      const v = (t as unknown as { demoVerify: VerifyTexts }).demoVerify;
      const timeline = (t as unknown as { timeline: Record<string, string> }).timeline;
      const tc = await newTestContext(browser, DESKTOP, lang);
      const { page } = tc;
      await openChoosePage(tc, t, `cv-saml-${lang}`);
      await page.getByRole('button', { name: continueWith(t, 'Demo SAML IdP'), exact: true }).click();
      await page.getByLabel('Username').fill('sam');
      await page.getByLabel('Password').fill('sam-demo-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await consentAndLand(tc, t, `cv-saml-${lang}`, 'sam@saml.demo');

      // Check now: an IdP cannot be asked in the background, so the session is marked for a round trip.
      await page.getByRole('button', { name: v.checkNow }).click();
      await expectLocator(page.getByRole('status')).toHaveText(`${v.checked} ${v.outcomes.marked}`);
      await expectLocator(page.locator('#reauth-pending')).toHaveText(v.reauthPending);
      expect(await page.locator('ol.timeline').textContent()).toContain(`${timeline.reauthMarked} IsPassive`);
      await checkPage(tc, `cv-saml-${lang}-marked`);

      // The app's next sign-in: through the IdP (IsPassive, answered from its own session) and back, no page to fill in.
      const passive = world.samlPassiveAnswers.length;
      await page.getByRole('link', { name: v.reauthContinue }).click();
      await page.waitForURL(`${world.broker.url}/demo`);
      await page.locator('dl.card').waitFor();
      expect(world.samlPassiveAnswers.slice(passive)).toEqual(['success']);
      expect(await page.locator('#reauth-pending').count()).toBe(0);
      expect(await page.locator('ol.timeline').textContent()).toContain(`${timeline.reauthenticated} IsPassive`);
      await expectLocator(page.locator('#token-status')).toHaveText(v.tokenAccepted);
      await checkPage(tc, `cv-saml-${lang}-reauthenticated`);
      await expectClean(tc);
    });
  }
});
