// Message catalogs (one views/i18n/<tag>.json per language) and the negotiation that picks one: ?lang, cookie, ui_locales, Accept-Language.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Locale = string;
export type Messages = Record<string, unknown> & { errors: Record<string, string>; languageName: string };

export const DEFAULT_LOCALE = 'en';

/** Reads every catalog in views/i18n; each names itself (languageName) for the language switch. */
export function loadCatalogs(viewsDir: string): Record<Locale, Messages> {
  const dir = join(viewsDir, 'i18n');
  const catalogs: Record<Locale, Messages> = {};
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.json')).sort()) {
    catalogs[file.slice(0, -'.json'.length)] = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Messages;
  }
  if (!catalogs[DEFAULT_LOCALE]) throw new Error(`views/i18n/${DEFAULT_LOCALE}.json is missing`);
  return catalogs;
}

// Tags that mean Simplified Chinese without saying "CN" (RFC 5646 script and region subtags).
const SIMPLIFIED_CHINESE = new Set(['zh', 'zh-cn', 'zh-hans', 'zh-sg', 'zh-hans-cn', 'zh-hans-sg']);

/** The supported locale a BCP 47 language tag asks for, if any: exact match, Simplified Chinese aliases, then the primary language. */
export function matchLocale(tag: string, supported: readonly Locale[]): Locale | undefined {
  const lower = tag.trim().toLowerCase();
  if (!lower || lower.length > 35) return undefined;
  const exact = supported.find((locale) => locale.toLowerCase() === lower);
  if (exact) return exact;
  if (SIMPLIFIED_CHINESE.has(lower) && supported.includes('zh-CN')) return 'zh-CN';
  const primary = lower.split('-')[0];
  if (primary === 'zh') return undefined;
  return supported.find((locale) => locale.toLowerCase() === primary);
}

/** Picks the best supported locale from an Accept-Language header (RFC 9110 section 12.5.4). */
export function fromAcceptLanguage(header: string | undefined, supported: readonly Locale[]): Locale | undefined {
  if (!header) return undefined;
  const ranges = header
    .slice(0, 512)
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const weight = q ? Number(q.slice(2)) : 1;
      return { tag, weight: Number.isFinite(weight) ? weight : 0, index };
    })
    .filter((range) => range.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index);
  for (const { tag } of ranges) {
    const locale = matchLocale(tag, supported);
    if (locale) return locale;
  }
  return undefined;
}

/** The first supported tag of an OpenID Connect ui_locales value (space-separated, in order of preference). */
export function fromUiLocales(value: unknown, supported: readonly Locale[]): Locale | undefined {
  if (typeof value !== 'string') return undefined;
  for (const tag of value.slice(0, 256).split(' ')) {
    const locale = matchLocale(tag, supported);
    if (locale) return locale;
  }
  return undefined;
}

/** The locale of one request: the language switch (?lang), the remembered choice (cookie), the client's ui_locales, the browser's Accept-Language. */
export function pickLocale(
  sources: { lang?: unknown; cookie?: string; uiLocales?: unknown; acceptLanguage?: string },
  supported: readonly Locale[],
): Locale {
  const chosen = (value: unknown) => (typeof value === 'string' ? supported.find((locale) => locale === value) : undefined);
  return chosen(sources.lang) ?? chosen(sources.cookie) ?? fromUiLocales(sources.uiLocales, supported) ?? fromAcceptLanguage(sources.acceptLanguage, supported) ?? DEFAULT_LOCALE;
}
