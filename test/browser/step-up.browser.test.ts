// The demo's step-up in Chromium, in English and Chinese: the sign-in's risk on the demo page, the sensitive action, TOTP enrolment (code computed from the key the page shows), recovery codes, and the MFA acr/amr; axe-clean, strict CSP.
import type { Browser } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACR_MFA } from '../../src/mfa/assurance.js';
import { DESKTOP, newTestContext, PHONE } from '../helpers/chromium.js';
import { localAccountId, totpCode } from '../helpers/step-up.js';
import { catalog, useDemoWorld, TEST_USER, type DemoWorld } from './demo-world.js';
import { demoFlows, expectClean, expectLocator, signInAsTestUser } from './flows.js';

interface MfaTexts {
  mfa: Record<string, string>;
  demoRisk: Record<string, string>;
  errors: Record<string, string>;
}
const mfaTexts = (locale: string) => JSON.parse(readFileSync(join(process.cwd(), 'views', 'i18n', `${locale}.json`), 'utf8')) as MfaTexts;

let browser: Browser;
let world: DemoWorld;

useDemoWorld((started, demo) => {
  browser = started;
  world = demo;
});

const { checkPage, openChoosePage, consentAndLand } = demoFlows(() => world.broker.url);

for (const [viewport, lang] of [[DESKTOP, 'en'], [PHONE, 'zh-CN']] as const) {
  const t = catalog(lang);
  const m = mfaTexts(lang);
  const label = `${viewport.name}-${lang}-step-up`;
  describe(`${viewport.name} (${viewport.width}px), ${lang}`, () => {
    it('the demo shows the sign-in risk; the sensitive action enrols TOTP from the shown key, shows recovery codes once, and lands with the MFA acr and otp in amr', async () => {
      // Each run starts without factors, so the sensitive action meets the enrolment page.
      await world.broker.app.broker.mfa.credentials.removeAll(localAccountId(TEST_USER.username));
      const tc = await newTestContext(browser, viewport, lang);
      const { page } = tc;
      await openChoosePage(tc, t, label);
      await signInAsTestUser(page, t);
      await consentAndLand(tc, t, label, TEST_USER.email);
      // The risk panel: a low level and the signals behind it (a new device).
      const risk = (await page.locator('#risk').textContent()) ?? '';
      expect(risk).toContain(m.demoRisk.low!);
      expect(risk).toContain('device.new');

      await page.getByRole('link', { name: m.demoRisk.sensitive }).click();
      await page.getByRole('heading', { name: m.mfa.enrolTitle }).waitFor();
      await checkPage(tc, `${label}-enrol`);
      expect(await page.getByRole('img', { name: m.mfa.qrAlt }).count()).toBe(1);
      // A wrong code first: announced, and the field says it is invalid.
      await page.getByLabel(m.mfa.totpLabel!).fill('000000');
      await page.getByRole('button', { name: m.mfa.enrolTotp }).click();
      await expectLocator(page.getByRole('alert')).toHaveText(m.errors.mfa_invalid!);
      expect(await page.getByLabel(m.mfa.totpLabel!).getAttribute('aria-invalid')).toBe('true');
      const secret = await page.getByLabel(m.mfa.manualKey!).inputValue();
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      await page.getByLabel(m.mfa.totpLabel!).fill(totpCode(secret));
      await page.getByRole('button', { name: m.mfa.enrolTotp }).click();

      await page.getByRole('heading', { name: m.mfa.recoveryTitle }).waitFor();
      expect(await page.locator('#recovery-codes li').count()).toBe(10);
      await checkPage(tc, `${label}-recovery-codes`);
      await page.getByRole('button', { name: m.mfa.recoverySaved }).click();

      await page.waitForURL(`${world.broker.url}/demo`);
      const card = (await page.locator('dl.card').textContent()) ?? '';
      expect(card).toContain(ACR_MFA);
      expect(card).toMatch(/pwd, otp, mfa|pwd,\s*otp,\s*mfa/);
      await checkPage(tc, `${label}-after`);
      await expectClean(tc);
    }, 120_000);
  });
}
