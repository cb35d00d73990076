// Passkeys in Chromium with its virtual authenticator (CDP WebAuthn, CTAP2, internal, resident key, user verified): enrolled on the account security page, then the demo's sensitive action steps up with it and the ID token shows acr phr and amr hwk; axe-clean, strict CSP.
import type { Browser, CDPSession } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_PHISHING_RESISTANT } from '../../src/mfa/assurance.js';
import { localProvider, startBroker, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { DESKTOP, launchChromium, newTestContext, PHONE, type TestContext } from '../helpers/chromium.js';
import { localAccountId } from '../helpers/step-up.js';
import { catalog, freePort } from './demo-world.js';
import { demoFlows, expectClean, expectLocator } from './flows.js';

interface PasskeyTexts {
  mfa: Record<string, string>;
  account: Record<string, string>;
  demoRisk: Record<string, string>;
}
const texts = (locale: string) => JSON.parse(readFileSync(join(process.cwd(), 'views', 'i18n', `${locale}.json`), 'utf8')) as PasskeyTexts;

let browser: Browser;
let broker: TestBroker;

beforeAll(async () => {
  browser = await launchChromium();
  // WebAuthn needs a domain for its rpID (an IP address is not one): the broker is http://localhost:<port>, a secure context.
  const port = await freePort();
  broker = await startBroker({ port, providers: [await localProvider()], config: { issuer: `http://localhost:${port}`, demo: true } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await broker?.close();
});

/** The broker's issuer (http://localhost:<port>; the test helper's own url names 127.0.0.1). */
const origin = () => broker.config.issuer;
const { checkPage } = demoFlows(origin);

/** Chromium's virtual authenticator for this page: a platform passkey that verifies its user. */
async function virtualAuthenticator(tc: TestContext): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await tc.context.newCDPSession(tc.page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  return { cdp, authenticatorId };
}

for (const [viewport, lang] of [[DESKTOP, 'en'], [PHONE, 'zh-CN']] as const) {
  const t = catalog(lang);
  const m = texts(lang);
  const label = `${viewport.name}-${lang}-passkey`;
  describe(`${viewport.name} (${viewport.width}px), ${lang}`, () => {
    it('a passkey enrolled on the account security page answers the demo sensitive action: acr phr, amr hwk', async () => {
      await broker.app.broker.mfa.credentials.removeAll(localAccountId(TEST_USER.username));
      const tc = await newTestContext(browser, viewport, lang);
      const { page } = tc;
      const { cdp, authenticatorId } = await virtualAuthenticator(tc);

      // No session yet: the page sends the browser through the demo's sign-in and back.
      await page.goto(`${origin()}/account/security`);
      await page.getByLabel(t.username).fill(TEST_USER.username);
      await page.getByLabel(t.password).fill(TEST_USER.password);
      await page.getByRole('button', { name: t.signIn, exact: true }).click();
      await page.getByRole('button', { name: t.allow }).click();
      await page.getByRole('heading', { name: m.account.title }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/account/security');
      await checkPage(tc, `${label}-account-empty`);

      await page.getByRole('link', { name: m.account.addPasskey }).click();
      await page.getByRole('heading', { name: m.account.addPasskey }).waitFor();
      await checkPage(tc, `${label}-add`);
      await page.getByLabel(m.account.labelField!).fill('Laptop');
      await page.getByRole('button', { name: m.mfa.enrolPasskey }).click();
      await page.getByRole('heading', { name: m.mfa.recoveryTitle }).waitFor();
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);
      expect(credentials[0]!.isResidentCredential).toBe(true);
      await checkPage(tc, `${label}-recovery`);
      await page.getByRole('button', { name: m.account.recoverySaved }).click();
      await expectLocator(page.getByRole('status')).toHaveText(m.account.done_added!);
      expect(await page.locator('#factors').textContent()).toContain('Laptop');
      await checkPage(tc, `${label}-account-listed`);

      // The demo's sensitive action asks for the MFA acr: the factor page offers the passkey, which answers it.
      await page.goto(`${origin()}/demo`);
      await page.getByRole('link', { name: m.demoRisk.sensitive }).click();
      await page.getByRole('heading', { name: m.mfa.title }).waitFor();
      await checkPage(tc, `${label}-step-up`);
      await page.getByRole('button', { name: m.mfa.passkey }).click();
      await page.waitForURL(`${origin()}/demo`);
      const card = (await page.locator('dl.card').textContent()) ?? '';
      expect(card).toContain(ACR_PHISHING_RESISTANT);
      expect(card).toMatch(/pwd,\s*hwk,\s*mfa/);
      const [credential] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
      expect(credential!.signCount).toBeGreaterThan(0);

      // The step-up is fresh: the account page lets the user change factors now, and its verify page takes the passkey too.
      await page.goto(`${origin()}/account/security/verify`);
      await page.getByRole('heading', { name: m.mfa.title }).waitFor();
      await checkPage(tc, `${label}-verify`);
      await page.getByRole('button', { name: m.mfa.passkey }).click();
      await expectLocator(page.getByRole('status')).toHaveText(m.account.done_verified!);
      expect(await page.locator('#change-until').count()).toBe(1);
      await expectClean(tc);
    }, 120_000);
  });
}
