// Renders page templates from views/ with auto-escaping, the request's locale, the language switch, the branding and the CSP nonce.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import type { Context } from 'koa';
import type { Branding } from '../config/branding.js';
import { loadCatalogs, pickLocale, type Locale, type Messages } from './i18n.js';

export const VIEWS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'views');
/** Remembers the language chosen with the switch (not a secret, not signed: any value outside the catalogs is ignored). */
export const LANG_COOKIE = 'vestibule_lang';
const LANG_COOKIE_MAX_AGE_MS = 365 * 86400_000;

export const DEFAULT_BRANDING: Branding = { productName: 'Vestibule', accentColor: '#2457c5' };

/** Where a page's "back to the application" link goes; routes that know the client put it in ctx.state.backTo. */
export interface BackTo {
  name: string;
  url: string;
}

/**
 * The application's page behind a registered redirect URI: its origin, or for an application on the broker's own
 * origin (the demo) the redirect URI's directory. Native-app schemes have no page to link to.
 */
export function backToApplication(name: string, redirectUri: string | undefined, brokerOrigin: string): BackTo | undefined {
  if (!redirectUri) return undefined;
  try {
    const url = new URL(redirectUri);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    return { name, url: url.origin === brokerOrigin ? new URL('.', url).pathname : `${url.origin}/` };
  } catch {
    return undefined;
  }
}

export interface Renderer {
  render(ctx: Context, view: string, data?: Record<string, unknown>, status?: number): void;
  messages(ctx: Context): Messages;
  locale(ctx: Context): Locale;
  /** The safe, translated message for an error code. */
  errorMessage(ctx: Context, code: string): string;
}

function queryValue(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  return typeof value === 'string' ? value : undefined;
}

/** The language switch's link for one locale: this page again (GET) or the page a form belongs to (ctx.state.langPath). */
function switchHref(ctx: Context, locale: Locale): string {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') {
    const url = new URL(ctx.originalUrl, 'http://x');
    url.searchParams.set('lang', locale);
    return `${url.pathname}${url.search}`;
  }
  const path = typeof ctx.state.langPath === 'string' ? ctx.state.langPath : ctx.path;
  return `${path}?lang=${encodeURIComponent(locale)}`;
}

export function createRenderer(branding: Branding = DEFAULT_BRANDING, viewsDir = VIEWS_DIR): Renderer {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  const catalogs = loadCatalogs(viewsDir);
  const supported = Object.keys(catalogs);
  const locale = (ctx: Context): Locale => {
    const oidcParams = (ctx as unknown as { oidc?: { params?: { ui_locales?: unknown } } }).oidc?.params;
    return pickLocale(
      {
        lang: queryValue(ctx, 'lang'),
        cookie: ctx.cookies.get(LANG_COOKIE),
        uiLocales: ctx.state.uiLocales ?? oidcParams?.ui_locales,
        acceptLanguage: ctx.get('accept-language'),
      },
      supported,
    );
  };
  const messages = (ctx: Context) => catalogs[locale(ctx)]!;
  const errorMessage = (ctx: Context, code: string) => messages(ctx).errors[code] ?? messages(ctx).errors.server_error!;
  return {
    locale,
    messages,
    errorMessage,
    render(ctx, view, data = {}, status = 200) {
      const lang = locale(ctx);
      const switched = queryValue(ctx, 'lang');
      if (switched && switched === lang) {
        ctx.cookies.set(LANG_COOKIE, lang, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: LANG_COOKIE_MAX_AGE_MS, secure: ctx.secure, overwrite: true });
      }
      if (branding.logoOrigin) {
        const csp = ctx.response.get('Content-Security-Policy');
        if (csp) ctx.set('Content-Security-Policy', csp.replace("img-src 'self' data:", `img-src 'self' data: ${branding.logoOrigin}`));
      }
      const languages = supported.map((tag) => ({ tag, name: catalogs[tag]!.languageName, href: switchHref(ctx, tag), current: tag === lang }));
      ctx.status = status;
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Content-Language', lang);
      ctx.body = env.render(`${view}.njk`, {
        ...data,
        t: catalogs[lang],
        lang,
        languages,
        brand: branding,
        backTo: data.backTo ?? (ctx.state.backTo as BackTo | undefined),
        requestId: data.requestId ?? ctx.state.requestId,
        nonce: ctx.state.nonce as string,
      });
    },
  };
}
