// Binds a login transaction to the browser that started it: a random value in a signed cookie, its digest in the transaction.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

export const BINDING_COOKIE = 'vestibule_binding';

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * The digest to store in a new transaction. The browser keeps one binding value while it has logins in progress
 * (two tabs share it); each start renews the cookie for `ttlMs`. SameSite=Lax: it reaches top-level GETs from the
 * upstream (the OIDC callback, the completion after a SAML POST) but no cross-site POST.
 */
export function bindBrowser(ctx: Context, ttlMs: number): string {
  let value = ctx.cookies.get(BINDING_COOKIE, { signed: true });
  if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) value = randomBytes(32).toString('base64url');
  ctx.cookies.set(BINDING_COOKIE, value, { signed: true, httpOnly: true, sameSite: 'lax', maxAge: ttlMs, overwrite: true });
  return digest(value);
}

/** True when this request comes from the browser whose binding digest the transaction holds. */
export function isSameBrowser(ctx: Context, expected: string | undefined): boolean {
  const value = ctx.cookies.get(BINDING_COOKIE, { signed: true });
  if (!value || !expected) return false;
  const actual = Buffer.from(digest(value));
  const wanted = Buffer.from(expected);
  return actual.length === wanted.length && timingSafeEqual(actual, wanted);
}
