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

export function readSessionCookie(ctx: Context): SessionPointer | undefined {
  const value = ctx.cookies.get(SESSION_COOKIE, { signed: true });
  const match = value ? /^([A-Za-z0-9_-]{1,128})\.([A-Za-z0-9_-]{1,128})$/.exec(value) : null;
  return match ? { accountId: match[1]!, sessionId: match[2]! } : undefined;
}

export function clearSessionCookie(ctx: Context): void {
  ctx.cookies.set(SESSION_COOKIE, null, { signed: true, httpOnly: true, sameSite: 'lax', overwrite: true });
}
