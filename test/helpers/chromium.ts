// Debian's Chromium driven by playwright-core for browser tests: loopback-only network, axe-core checks, CSP and overflow checks, screenshots.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Where every checked page's screenshot goes; CI keeps the folder when the suite fails. */
export const SCREENSHOT_DIR = join(process.cwd(), 'test-results', 'browser');

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Launches Chromium; fails (never skips) when Debian's chromium package is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium package (.ci/run does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run'],
  });
}

export interface Viewport {
  name: string;
  width: number;
  height: number;
}

export const DESKTOP: Viewport = { name: 'desktop', width: 1280, height: 800 };
export const PHONE: Viewport = { name: 'phone', width: 390, height: 844 };

export interface TestContext {
  context: BrowserContext;
  page: Page;
  /** Requests the context refused because they were not for a loopback address. */
  blocked: string[];
  /** Console messages about Content-Security-Policy violations. */
  cspViolations: string[];
}

/** A fresh context (own cookies) in one language at one width; anything not on loopback is refused and recorded. */
export async function newTestContext(browser: Browser, viewport: Viewport, locale: string): Promise<TestContext> {
  const context = await browser.newContext({ viewport: { width: viewport.width, height: viewport.height }, locale, isMobile: viewport === PHONE, hasTouch: viewport === PHONE });
  const blocked: string[] = [];
  const cspViolations: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if ((url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK.has(url.hostname)) return route.continue();
    if (url.protocol === 'data:') return route.continue();
    blocked.push(url.href);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) cspViolations.push(message.text());
  });
  return { context, page, blocked, cspViolations };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** Runs axe-core (all rules axe runs by default) on the page; answers its violations, compacted for a readable failure. */
export async function axeViolations(page: Page): Promise<{ id: string; impact: string | null; help: string; targets: string[] }[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
}

/** True when the page is wider than the viewport (a horizontal scrollbar). */
export async function overflowsHorizontally(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
}

/**
 * Whether keyboard focus is visible on the page: focus leaves the page's current element with Tab, and the element that
 * receives it must draw an outline (or a focus shadow). Moves the focus by one element.
 */
export async function focusRingVisible(page: Page): Promise<boolean> {
  await page.keyboard.press('Tab');
  return page.evaluate(() => {
    const focused = document.activeElement;
    if (!focused || focused === document.body) return false;
    const style = getComputedStyle(focused);
    return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
  });
}

let shots = 0;
/** Saves a full-page screenshot named after the test step. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  shots += 1;
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${String(shots).padStart(3, '0')}-${name.replace(/[^\w.-]+/g, '_')}.png`), fullPage: true });
}
