// The device flow's pages in Chromium (RFC 8628): code entry, a wrong code announced, confirmation, sign-in, result; axe-clean, keyboard focus visible, English and Simplified Chinese.
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, launchChromium, newTestContext, PHONE } from '../helpers/chromium.js';
import { startBroker, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { discoverRp } from '../helpers/rp.js';
import { catalog } from './demo-world.js';
import { demoFlows, expectLocator } from './flows.js';

const DEVICE_CLIENT = { clientId: 'tv-app', redirectUri: 'http://127.0.0.1:1/tv' };
type DeviceTexts = { deviceCodeLabel: string; deviceContinue: string; deviceConfirm: string; deviceDone: string; deviceErrors: Record<string, string> };

let browser: Browser;
let broker: TestBroker;

beforeAll(async () => {
  browser = await launchChromium();
  broker = await startBroker({
    config: {
      authorizationServer: { deviceFlow: { enabled: true } },
      clients: [{ clientId: DEVICE_CLIENT.clientId, name: 'Living-room TV', public: true, redirectUris: [DEVICE_CLIENT.redirectUri], deviceFlow: true, skipConsent: true }],
    },
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await broker?.close();
});

describe('device flow pages', () => {
  it.each([
    ['en', DESKTOP],
    ['zh-CN', PHONE],
  ] as const)('a device sign-in in %s: code, confirmation, sign-in, done; the device gets its tokens', async (locale, viewport) => {
    const t = catalog(locale);
    const device = t as unknown as DeviceTexts;
    const { checkPage } = demoFlows(() => broker.url);
    const config = await discoverRp(broker.issuer, DEVICE_CLIENT);
    const grant = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' });
    const tc = await newTestContext(browser, viewport, locale);
    const { page } = tc;
    await page.goto(grant.verification_uri);
    await page.getByLabel(device.deviceCodeLabel).waitFor();
    await checkPage(tc, `device-input-${locale}`);

    await page.getByLabel(device.deviceCodeLabel).fill('BCDF-GHJK');
    await page.getByRole('button', { name: device.deviceContinue }).click();
    await expectLocator(page.getByRole('alert')).toHaveText(device.deviceErrors.code!);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('user_code');
    await checkPage(tc, `device-wrong-code-${locale}`);

    await page.getByLabel(device.deviceCodeLabel).fill(grant.user_code);
    await page.getByRole('button', { name: device.deviceContinue }).click();
    await page.getByRole('button', { name: device.deviceConfirm }).waitFor();
    expect(await page.locator('main').textContent()).toContain('Living-room TV');
    await checkPage(tc, `device-confirm-${locale}`);
    await page.getByRole('button', { name: device.deviceConfirm }).click();

    await page.getByLabel(t.username).fill(TEST_USER.username);
    await page.getByLabel(t.password).fill(TEST_USER.password);
    await page.getByRole('button', { name: t.signIn, exact: true }).click();
    await page.getByRole('status').waitFor();
    expect(await page.getByRole('status').textContent()).toContain(device.deviceDone);
    await checkPage(tc, `device-done-${locale}`);

    const tokens = await oidc.pollDeviceAuthorizationGrant(config, grant);
    expect(tokens.claims()?.email).toBe(TEST_USER.email);
    await tc.context.close();
  }, 120_000);
});
