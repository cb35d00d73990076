// The broker's own signed cookie naming this browser's federated session, so logout can reach the right upstream.
import type { Context } from 'koa';

export const SESSION_COOKIE = 'vestibule_fsession';

export interface SessionPointer {
  accountId: string;
  sessionId: string;
}

export function setSessionCookie(ctx: Context, pointer: SessionPointer, maxAgeMs: number): void {
  ctx.cookies.set(SESSION_COOKIE, `${pointer.accountId}.${pointer.sessionId}`, { signed: true, httpOnly: true, sameSite: 'lax', maxAge: maxAgeMs, overwrite: true });
}

/** What each request's cookie header named (a request reads it several times: findAccount, the interaction policy's checks). */
const readOnce = new WeakMap<Context, SessionPointer | null>();

/** The session the request's cookie names, its signature checked once per request (later calls reuse the answer). */
export function readSessionCookie(ctx: Context): SessionPointer | undefined {
  const known = readOnce.get(ctx);
  if (known !== undefined) return known ?? undefined;
  const value = ctx.cookies.get(SESSION_COOKIE, { signed: true });
  const match = value ? /^([A-Za-z0-9_-]{1,128})\.([A-Za-z0-9_-]{1,128})$/.exec(value) : null;
  const pointer = match ? { accountId: match[1]!, sessionId: match[2]! } : undefined;
  readOnce.set(ctx, pointer ?? null);
  return pointer;
}

export function clearSessionCookie(ctx: Context): void {
  ctx.cookies.set(SESSION_COOKIE, null, { signed: true, httpOnly: true, sameSite: 'lax', overwrite: true });
}
