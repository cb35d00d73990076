// Renders page templates from views/ with auto-escaping, the request's locale and its CSP nonce.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import type { Context } from 'koa';
import { loadCatalogs, pickLocale, type Locale, type Messages } from './i18n.js';

export const VIEWS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'views');

export interface Renderer {
  render(ctx: Context, view: string, data?: Record<string, unknown>, status?: number): void;
  messages(ctx: Context): Messages;
  locale(ctx: Context): Locale;
  /** The safe, translated message for an error code. */
  errorMessage(ctx: Context, code: string): string;
}

export function createRenderer(viewsDir = VIEWS_DIR): Renderer {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  const catalogs = loadCatalogs(viewsDir);
  const locale = (ctx: Context) => pickLocale(ctx.get('accept-language'));
  const messages = (ctx: Context) => catalogs[locale(ctx)];
  const errorMessage = (ctx: Context, code: string) => messages(ctx).errors[code] ?? messages(ctx).errors.server_error!;
  return {
    locale,
    messages,
    errorMessage,
    render(ctx, view, data = {}, status = 200) {
      const lang = locale(ctx);
      ctx.status = status;
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Content-Language', lang);
      ctx.body = env.render(`${view}.njk`, { ...data, t: catalogs[lang], lang, nonce: ctx.state.nonce as string });
    },
  };
}
