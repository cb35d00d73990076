// Message catalogs (English, Simplified Chinese) and the Accept-Language negotiation that picks one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Locale = 'en' | 'zh-CN';
export type Messages = Record<string, unknown> & { errors: Record<string, string> };

export function loadCatalogs(viewsDir: string): Record<Locale, Messages> {
  const read = (locale: Locale) => JSON.parse(readFileSync(join(viewsDir, 'i18n', `${locale}.json`), 'utf8')) as Messages;
  return { en: read('en'), 'zh-CN': read('zh-CN') };
}

/** Picks the best supported locale from an Accept-Language header (RFC 9110 section 12.5.4); English by default. */
export function pickLocale(header: string | undefined): Locale {
  if (!header) return 'en';
  const ranges = header
    .slice(0, 512)
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const weight = q ? Number(q.slice(2)) : 1;
      return { tag: tag.toLowerCase(), weight: Number.isFinite(weight) ? weight : 0, index };
    })
    .filter((range) => range.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index);
  for (const { tag } of ranges) {
    if (tag === 'zh' || tag === 'zh-cn' || tag === 'zh-hans' || tag.startsWith('zh-hans-') || tag === 'zh-sg') return 'zh-CN';
    if (tag === 'en' || tag.startsWith('en-')) return 'en';
  }
  return 'en';
}
