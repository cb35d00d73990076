// Branding on every page (name, logo file or URL, accent colour, support link) with the CSP kept strict, and the configuration's refusals.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';

const dir = mkdtempSync(join(tmpdir(), 'vestibule-branding-'));
const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#7a1fa2"/></svg>';
writeFileSync(join(dir, 'logo.svg'), svg);
writeFileSync(join(dir, 'huge.png'), Buffer.alloc(65 * 1024));
writeFileSync(join(dir, 'logo.gif'), 'GIF89a');

const errorPage = (broker: TestBroker, query = '') => fetch(`${broker.url}/interaction/no-such-interaction${query}`, { headers: { accept: 'text/html' } });
const titleOf = (html: string) => /<title>([^<]*)<\/title>/.exec(html)?.[1];

describe('default branding', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(() => broker.close());

  it('names Vestibule, uses the default accent, shows no logo or support link, and leaves the CSP as it is', async () => {
    const response = await errorPage(broker);
    const html = await response.text();
    expect(titleOf(html)).toBe('Something went wrong · Vestibule');
    expect(html).toContain('--accent:#2457c5');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('Contact support');
    expect(response.headers.get('content-security-policy')).toMatch(/img-src 'self' data:; /);
    expect(response.headers.get('content-security-policy')).not.toContain('unsafe-inline');
  });

  it('the language switch: ?lang=zh-CN answers in Chinese and remembers it in a cookie; a forged value changes nothing', async () => {
    const zh = await errorPage(broker, '?lang=zh-CN');
    expect(zh.headers.get('content-language')).toBe('zh-CN');
    const cookie = zh.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^vestibule_lang=zh-CN; /);
    for (const attribute of ['path=/', 'samesite=lax', 'httponly']) expect(cookie).toContain(attribute);
    const remembered = await fetch(`${broker.url}/interaction/no-such-interaction`, { headers: { accept: 'text/html', cookie: 'vestibule_lang=zh-CN' } });
    expect(remembered.headers.get('content-language')).toBe('zh-CN');
    for (const forged of ['?lang=%3Cscript%3E', `?lang=${'zh'.repeat(3000)}`, '?lang=zh-CN&lang=en']) {
      const page = await errorPage(broker, forged);
      expect(page.headers.get('content-language'), forged).toBe('en');
      expect(page.headers.get('set-cookie'), forged).toBeNull();
      expect(await page.text()).not.toContain('<script>');
    }
    const forgedCookie = await fetch(`${broker.url}/interaction/no-such-interaction`, { headers: { accept: 'text/html', cookie: 'vestibule_lang=../../etc' } });
    expect(forgedCookie.headers.get('content-language')).toBe('en');
  });
});

describe('configured branding', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker({
      config: { branding: { productName: 'Acme <ID>', logoFile: join(dir, 'logo.svg'), accentColor: '#7A1FA2', supportUrl: 'https://help.acme.test/sso' } },
    });
  });
  afterAll(() => broker.close());

  it('puts the name (escaped), the embedded logo, the accent colour and the support link on the page', async () => {
    const html = await (await errorPage(broker)).text();
    expect(titleOf(html)).toBe('Something went wrong · Acme &lt;ID&gt;');
    expect(html).toContain(`<img src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}" alt="">`);
    expect(html).toContain('--accent:#7a1fa2');
    expect(html).toContain('<a href="https://help.acme.test/sso">Contact support (quote the reference below)</a>');
  });
});

describe('a logo URL', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker({ config: { branding: { logoUrl: 'https://cdn.acme.test/brand/logo.png' } } });
  });
  afterAll(() => broker.close());

  it('allows exactly its origin in img-src and nothing else', async () => {
    const response = await errorPage(broker);
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toMatch(/img-src 'self' data: https:\/\/cdn\.acme\.test; /);
    expect(csp).toMatch(/^default-src 'none'; style-src 'nonce-[^']+'; script-src 'nonce-[^']+'; img-src/);
    expect(await response.text()).toContain('<img src="https://cdn.acme.test/brand/logo.png" alt="">');
  });
});

describe('branding settings the configuration refuses', () => {
  const load = (branding: Record<string, unknown>) => loadConfig({ env: {}, cwd: dir, file: { providersDir: join(process.cwd(), 'test/fixtures/no-providers'), branding } });

  it.each([
    [{ accentColor: '#ffff00' }, /branding\.accentColor: must contrast at least 4\.5:1 with white/],
    [{ accentColor: 'red' }, /branding\.accentColor: must be a colour like #2457c5/],
    [{ logoUrl: 'http://cdn.acme.test/logo.png' }, /branding\.logoUrl: must be an https URL or a path on the broker/],
    [{ logoUrl: '//cdn.acme.test/logo.png' }, /branding\.logoUrl: must be an https URL or a path on the broker/],
    [{ logoUrl: 'https://a.test/l.png', logoFile: 'logo.svg' }, /branding: set logoUrl or logoFile, not both/],
    [{ logoFile: 'missing.png' }, /branding\.logoFile: cannot read .*missing\.png \(ENOENT\)/],
    [{ logoFile: 'huge.png' }, /branding\.logoFile: larger than 64 KiB/],
    [{ logoFile: 'logo.gif' }, /branding\.logoFile: must end in \.png, \.svg/],
    [{ supportUrl: 'javascript:alert(1)' }, /branding\.supportUrl: must be an http\(s\) or mailto: URL/],
    [{ productName: '' }, /branding\.productName/],
    [{ productName: 'x'.repeat(81) }, /branding\.productName/],
    [{ colour: '#000000' }, /branding: Unrecognized key/],
  ])('%j', async (branding, problem) => {
    await expect(load(branding)).rejects.toThrow(problem);
  });

  it('a relative logoFile is read from the configuration directory', async () => {
    const config = await load({ logoFile: 'logo.svg' });
    expect(config.branding.logoSrc).toBe(`data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`);
    expect(config.branding.productName).toBe('Vestibule');
  });
});
