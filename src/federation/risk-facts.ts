// The plain request facts the risk engine reads (address, user agent, device cookie, posture header), taken from one request.
import type { Context } from 'koa';
import type { BrokerContext } from '../context.js';
import { fromTrustedProxy } from '../http/client-ip.js';
import { readDeviceCookie, type DeviceCookieSettings } from '../risk/device-cookie.js';
import type { RiskInput } from '../risk/types.js';

export type RequestFacts = Pick<RiskInput, 'ip' | 'userAgent' | 'deviceId' | 'postureHeader' | 'fromTrustedProxy' | 'requestId'>;

/** The device cookie's settings: the risk section's name and lifetime, signed with the cookie keys. */
export function deviceCookieSettings(broker: Pick<BrokerContext, 'risk' | 'config'>): DeviceCookieSettings {
  return { cookieName: broker.risk.config.device.cookieName, maxAgeDays: broker.risk.config.device.maxAgeDays, keys: broker.config.cookieKeys };
}

export function requestFacts(broker: Pick<BrokerContext, 'risk' | 'config' | 'proxies'>, ctx: Context): RequestFacts {
  const userAgent = ctx.get('user-agent');
  const posture = ctx.get(broker.risk.config.posture.header);
  const deviceId = readDeviceCookie(ctx, deviceCookieSettings(broker));
  return {
    ip: ctx.ip,
    ...(userAgent ? { userAgent: userAgent.slice(0, 512) } : {}),
    ...(deviceId ? { deviceId } : {}),
    ...(posture ? { postureHeader: posture.slice(0, 16) } : {}),
    fromTrustedProxy: fromTrustedProxy(ctx, broker.proxies),
    ...(typeof ctx.state.requestId === 'string' ? { requestId: ctx.state.requestId } : {}),
  };
}
