// Validates an upstream's Back-Channel Logout token (OpenID Connect Back-Channel Logout 1.0 §2.6) with jose: signature by the upstream's keys, iss, aud, iat, events, sub/sid, jti, no nonce.
import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ConnectorError, type LogoutTokenClaims } from './connector.js';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Logout tokens older than this are refused even without `exp` (§2.6 step 5 lets the RP bound iat). */
const MAX_TOKEN_AGE_SEC = 600;

export interface LogoutTokenCheck {
  issuer: string;
  clientId: string;
  keys: JWTVerifyGetKey;
  algorithms: readonly string[];
  clockToleranceSec: number;
  /** Current time, ms. */
  now: number;
}

const invalid = (detail: string, cause?: unknown) => new ConnectorError('invalid_logout_token', detail, { status: 400, cause });

export async function verifyLogoutToken(token: string, check: LogoutTokenCheck): Promise<LogoutTokenClaims> {
  let payload: Record<string, unknown>;
  let typ: string | undefined;
  try {
    const verified = await jwtVerify(token, check.keys, {
      issuer: check.issuer,
      audience: check.clientId,
      algorithms: [...check.algorithms],
      clockTolerance: check.clockToleranceSec,
      currentDate: new Date(check.now),
      maxTokenAge: MAX_TOKEN_AGE_SEC,
      requiredClaims: ['iat', 'jti', 'events'],
    });
    payload = verified.payload as Record<string, unknown>;
    typ = verified.protectedHeader.typ;
  } catch (err) {
    const code = err instanceof joseErrors.JOSEError ? err.code : 'ERR_INVALID';
    throw invalid(`logout token refused (${code}): ${String((err as Error)?.message ?? err).slice(0, 200)}`, err);
  }
  // Explicitly typed logout tokens (§2.4) must say so; an ID token (typ JWT) is never a logout token.
  if (typ !== undefined && typ.toLowerCase() !== 'logout+jwt' && typ.toLowerCase() !== 'application/logout+jwt') throw invalid(`typ ${typ.slice(0, 40)} is not logout+jwt`);
  const events = payload.events;
  if (typeof events !== 'object' || events === null || Array.isArray(events)) throw invalid('events is not a JSON object');
  const event = (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT];
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw invalid('events has no back-channel logout member');
  if ('nonce' in payload) throw invalid('a logout token must not contain a nonce');
  const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
  const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
  if (!sub && !sid) throw invalid('neither sub nor sid');
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw invalid('jti missing or too long');
  const exp = typeof payload.exp === 'number' ? payload.exp : (payload.iat as number) + MAX_TOKEN_AGE_SEC;
  return { ...(sub ? { sub } : {}), ...(sid ? { sid } : {}), jti: payload.jti, expiresAt: exp * 1000 };
}
