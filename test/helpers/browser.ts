// A tiny scripted browser for tests: a cookie jar, manual redirects, and HTML form extraction.
export interface Page {
  url: string;
  status: number;
  headers: Headers;
  body: string;
}

interface Cookie {
  name: string;
  value: string;
  path: string;
  host: string;
}

export interface HtmlForm {
  action: string;
  method: string;
  fields: Record<string, string>;
}

const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

export class Browser {
  private cookies: Cookie[] = [];
  /** Every URL visited, in order (redirects included). */
  readonly history: string[] = [];

  /** `headers` go with every request (e.g. X-Forwarded-For through a trusted proxy, a device-posture header). */
  constructor(private readonly options: { acceptLanguage?: string; headers?: Record<string, string> } = {}) {}

  private cookieHeader(url: URL): string {
    return this.cookies
      .filter((c) => c.host === url.host && url.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  private storeCookies(url: URL, headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const pathAttr = attributes.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const path = pathAttr ? pathAttr.slice(5) : '/';
      const expired = attributes.some((a) => /^max-age=0$/i.test(a.trim()) || /^expires=thu, 01 jan 1970/i.test(a.trim()));
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === path && c.host === url.host));
      if (!expired && value !== '') this.cookies.push({ name, value, path, host: url.host });
    }
  }

  /** The value of a cookie this browser holds for the origin (any path), if it has one. */
  cookie(origin: string, name: string): string | undefined {
    const host = new URL(origin).host;
    return this.cookies.find((c) => c.host === host && c.name === name)?.value;
  }

  /** One request, no redirect following. */
  async request(url: string, init: { method?: string; form?: Record<string, string>; body?: string; headers?: Record<string, string> } = {}): Promise<Page> {
    const target = new URL(url);
    const headers: Record<string, string> = { accept: 'text/html', ...(this.options.acceptLanguage ? { 'accept-language': this.options.acceptLanguage } : {}), ...this.options.headers, ...init.headers };
    const cookie = this.cookieHeader(target);
    if (cookie) headers.cookie = cookie;
    let body = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    this.history.push(target.href);
    const response = await fetch(target, { method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.storeCookies(target, response.headers);
    return { url: target.href, status: response.status, headers: response.headers, body: await response.text() };
  }

  /** Follows redirects until a response is not a redirect, or its Location starts with `stopAt` (returned unfollowed). */
  async follow(url: string, init: Parameters<Browser['request']>[1] = {}, stopAt?: string): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; hops < 20; hops++) {
      const location = page.headers.get('location');
      if (page.status < 300 || page.status >= 400 || !location) return page;
      const next = new URL(location, page.url).href;
      if (stopAt && next.startsWith(stopAt)) return { ...page, url: next };
      page = await this.request(next);
    }
    throw new Error('too many redirects');
  }

  /** Submits the first form on the page whose action contains `actionPart`, overriding fields. */
  async submit(page: Page, actionPart: string, overrides: Record<string, string> = {}, stopAt?: string): Promise<Page> {
    const form = forms(page).find((f) => f.action.includes(actionPart));
    if (!form) throw new Error(`no form with action containing ${actionPart} on ${page.url} (status ${page.status}): ${page.body.slice(0, 300)}`);
    return this.follow(new URL(form.action, page.url).href, { form: { ...form.fields, ...overrides } }, stopAt);
  }
}

/** Extracts forms with their hidden/text inputs (first value wins; buttons are not included). */
export function forms(page: Page): HtmlForm[] {
  const out: HtmlForm[] = [];
  for (const match of page.body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = match[1] ?? '';
    const action = decode(/action="([^"]*)"/i.exec(attrs)?.[1] ?? page.url);
    const method = (/method="([^"]*)"/i.exec(attrs)?.[1] ?? 'get').toLowerCase();
    const fields: Record<string, string> = {};
    for (const input of (match[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
      const name = /name="([^"]*)"/i.exec(input[1] ?? '')?.[1];
      const value = /value="([^"]*)"/i.exec(input[1] ?? '')?.[1] ?? '';
      if (name && !(name in fields)) fields[decode(name)] = decode(value);
    }
    out.push({ action, method, fields });
  }
  return out;
}
