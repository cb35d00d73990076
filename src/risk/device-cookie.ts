// The long-lived device cookie: a random device id signed with HMAC-SHA256 under the cookie keys (first signs, all verify).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

const ID = /^[A-Za-z0-9_-]{22}$/;

const macOf = (key: string, deviceId: string) => createHmac('sha256', key).update(`vestibule-device.${deviceId}`).digest('base64url');

export function newDeviceId(): string {
  return randomBytes(16).toString('base64url');
}

/** "<id>.<mac>" */
export function signDeviceId(deviceId: string, keys: readonly string[]): string {
  return `${deviceId}.${macOf(keys[0] as string, deviceId)}`;
}

/** The device id of a cookie value when any key verifies it; undefined for a missing, malformed or forged value. */
export function verifyDeviceCookie(value: string | undefined, keys: readonly string[]): string | undefined {
  if (!value || value.length > 100) return undefined;
  const dot = value.indexOf('.');
  const deviceId = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1));
  if (dot === -1 || !ID.test(deviceId)) return undefined;
  for (const key of keys) {
    const expected = Buffer.from(macOf(key, deviceId));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return deviceId;
  }
  return undefined;
}

export interface DeviceCookieSettings {
  cookieName: string;
  maxAgeDays: number;
  keys: readonly string[];
}

/** The verified device id this browser sent, if any. */
export function readDeviceCookie(ctx: Context, settings: DeviceCookieSettings): string | undefined {
  return verifyDeviceCookie(ctx.cookies.get(settings.cookieName), settings.keys);
}

/** Sets (or refreshes) the device cookie: httpOnly, SameSite=Lax, Secure on https. */
export function issueDeviceCookie(ctx: Context, deviceId: string, settings: DeviceCookieSettings): void {
  ctx.cookies.set(settings.cookieName, signDeviceId(deviceId, settings.keys), {
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    maxAge: settings.maxAgeDays * 86_400_000,
    overwrite: true,
  });
}
