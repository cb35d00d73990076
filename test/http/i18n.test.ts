// Language negotiation (switch, cookie, ui_locales, Accept-Language) and the completeness of every message catalog.
import { describe, expect, it } from 'vitest';
import { fromAcceptLanguage, fromUiLocales, loadCatalogs, matchLocale, pickLocale } from '../../src/http/i18n.js';
import { VIEWS_DIR } from '../../src/http/views.js';

const SUPPORTED = ['en', 'zh-CN'];

describe('matchLocale', () => {
  it('matches exact tags case-insensitively, Simplified Chinese aliases, and a primary language', () => {
    expect(matchLocale('ZH-cn', SUPPORTED)).toBe('zh-CN');
    for (const tag of ['zh', 'zh-Hans', 'zh-SG', 'zh-Hans-CN']) expect(matchLocale(tag, SUPPORTED)).toBe('zh-CN');
    expect(matchLocale('en-GB', SUPPORTED)).toBe('en');
  });

  it('does not serve Simplified Chinese for Traditional Chinese, nor anything for unknown, empty or oversized tags', () => {
    for (const tag of ['zh-TW', 'zh-Hant', 'zh-HK', 'fr', '', ' ', `en-${'x'.repeat(64)}`, '<script>']) expect(matchLocale(tag, SUPPORTED)).toBeUndefined();
  });
});

describe('fromAcceptLanguage (RFC 9110 section 12.5.4)', () => {
  it('honours q weights and order, skips q=0 and malformed weights', () => {
    expect(fromAcceptLanguage('fr;q=1, zh-CN;q=0.8, en;q=0.5', SUPPORTED)).toBe('zh-CN');
    expect(fromAcceptLanguage('zh;q=0, en', SUPPORTED)).toBe('en');
    expect(fromAcceptLanguage('zh;q=abc, en;q=0.1', SUPPORTED)).toBe('en');
    expect(fromAcceptLanguage(undefined, SUPPORTED)).toBeUndefined();
  });

  it('reads only the first 512 characters of an oversized header', () => {
    expect(fromAcceptLanguage(`${'x-foo;q=0.9, '.repeat(100)}zh-CN`, SUPPORTED)).toBeUndefined();
  });
});

describe('fromUiLocales (OpenID Connect Core 1.0 section 3.1.2.1)', () => {
  it('takes the first supported tag of the space-separated list', () => {
    expect(fromUiLocales('fr-CA fr zh-CN en', SUPPORTED)).toBe('zh-CN');
    expect(fromUiLocales('de', SUPPORTED)).toBeUndefined();
    expect(fromUiLocales(['zh-CN'], SUPPORTED)).toBeUndefined();
    expect(fromUiLocales(`${'de '.repeat(200)}zh-CN`, SUPPORTED)).toBeUndefined();
  });
});

describe('pickLocale', () => {
  it('prefers the switch, then the remembered choice, then ui_locales, then Accept-Language, then English', () => {
    const all = { lang: 'en', cookie: 'zh-CN', uiLocales: 'zh-CN', acceptLanguage: 'zh-CN' };
    expect(pickLocale(all, SUPPORTED)).toBe('en');
    expect(pickLocale({ ...all, lang: undefined }, SUPPORTED)).toBe('zh-CN');
    expect(pickLocale({ cookie: 'en', uiLocales: 'zh-CN' }, SUPPORTED)).toBe('en');
    expect(pickLocale({ uiLocales: 'zh-CN', acceptLanguage: 'en' }, SUPPORTED)).toBe('zh-CN');
    expect(pickLocale({ acceptLanguage: 'zh' }, SUPPORTED)).toBe('zh-CN');
    expect(pickLocale({}, SUPPORTED)).toBe('en');
  });

  it('ignores a forged or unknown switch value and cookie (exact catalog names only)', () => {
    expect(pickLocale({ lang: 'zh-cn', cookie: '../en', acceptLanguage: 'fr' }, SUPPORTED)).toBe('en');
    expect(pickLocale({ lang: ['zh-CN'], cookie: 'x'.repeat(5000) }, SUPPORTED)).toBe('en');
  });
});

describe('the catalogs in views/i18n', () => {
  const catalogs = loadCatalogs(VIEWS_DIR);
  const keys = (value: unknown, prefix = ''): string[] =>
    typeof value === 'object' && value !== null ? Object.entries(value).flatMap(([k, v]) => keys(v, `${prefix}${k}.`)) : [prefix.slice(0, -1)];
  const leaf = (catalog: unknown, path: string) => path.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)?.[part], catalog);

  it('has English and Simplified Chinese, each naming itself for the switch', () => {
    expect(Object.keys(catalogs).sort()).toEqual(['en', 'zh-CN']);
    expect(catalogs.en!.languageName).toBe('English');
    expect(catalogs['zh-CN']!.languageName).toBe('简体中文');
  });

  it('every catalog has every English message, none empty, with the same placeholders', () => {
    const english = keys(catalogs.en);
    for (const [locale, catalog] of Object.entries(catalogs)) {
      expect(keys(catalog).sort(), locale).toEqual([...english].sort());
      for (const path of english) {
        const text = leaf(catalog, path);
        expect(typeof text === 'string' && text.trim().length > 0, `${locale} ${path}`).toBe(true);
        expect(String(text).match(/\{\w+\}/g) ?? [], `${locale} ${path} placeholders`).toEqual(String(leaf(catalogs.en, path)).match(/\{\w+\}/g) ?? []);
      }
    }
  });
});
