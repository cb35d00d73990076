// Security Event Token validation (RFC 8417 as profiled by SSF 1.0): signature by the transmitter's keys, typ secevent+jwt, iss, aud, iat freshness, jti, one known event, the subject.
import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';

/** The event types the broker understands (CAEP 1.0 and the SSF verification / stream events). */
export const EVENT = {
  sessionRevoked: 'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
  credentialChange: 'https://schemas.openid.net/secevent/caep/event-type/credential-change',
  assuranceLevelChange: 'https://schemas.openid.net/secevent/caep/event-type/assurance-level-change',
  deviceComplianceChange: 'https://schemas.openid.net/secevent/caep/event-type/device-compliance-change',
  riskLevelChange: 'https://schemas.openid.net/secevent/caep/event-type/risk-level-change',
  verification: 'https://schemas.openid.net/secevent/ssf/event-type/verification',
  streamUpdated: 'https://schemas.openid.net/secevent/ssf/event-type/stream-updated',
} as const;

export const KNOWN_EVENTS: ReadonlySet<string> = new Set(Object.values(EVENT));

/** A subject identifier (RFC 9493), possibly `complex` with user / session / device members. */
export interface SubjectId {
  format: string;
  [member: string]: unknown;
}

/** A SET that passed every check. */
export interface ValidSet {
  jti: string;
  iat: number;
  /** The one event's type URI and its payload. */
  type: string;
  event: Record<string, unknown>;
  subject: SubjectId;
}

export interface SetCheck {
  issuer: string;
  audience: string;
  keys: JWTVerifyGetKey;
  algorithms: readonly string[];
  /** SETs issued longer ago than this are refused, s. */
  maxAgeSec: number;
  clockToleranceSec?: number;
  /** Current time, ms. */
  now: number;
}

/**
 * Why a SET was refused, with the RFC 8935 §2.4 error code the push answer carries (`invalid_request`, `invalid_key`,
 * `invalid_issuer`, `invalid_audience`); `reason` is the broker's audit reason.
 */
export class SetError extends Error {
  override readonly name = 'SetError';
  constructor(
    readonly err: 'invalid_request' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience' | 'authentication_failed' | 'access_denied',
    readonly reason: string,
    readonly detail: string,
  ) {
    super(reason);
  }
}

const MAX_SET_CHARS = 16 * 1024;

function fromJose(error: unknown): SetError {
  const detail = String((error as Error)?.message ?? error).slice(0, 200);
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return new SetError('invalid_issuer', 'set_invalid_issuer', detail);
    if (error.claim === 'aud') return new SetError('invalid_audience', 'set_invalid_audience', detail);
    if (error.claim === 'iat' || error.claim === 'exp' || error.claim === 'nbf') return new SetError('invalid_request', 'set_expired', detail);
    return new SetError('invalid_request', 'set_invalid_claims', detail);
  }
  if (error instanceof joseErrors.JWTExpired) return new SetError('invalid_request', 'set_expired', detail);
  if (error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JOSEAlgNotAllowed) {
    return new SetError('invalid_key', 'set_bad_signature', detail);
  }
  return new SetError('invalid_request', 'set_malformed', detail);
}

/** The SET's subject: the top-level `sub_id` (SSF 1.0), or the event's own `subject` member (earlier CAEP drafts). */
function subjectOf(payload: Record<string, unknown>, event: Record<string, unknown>): SubjectId {
  const subject = payload.sub_id ?? event.subject;
  if (typeof subject !== 'object' || subject === null || Array.isArray(subject) || typeof (subject as SubjectId).format !== 'string') {
    throw new SetError('invalid_request', 'set_no_subject', 'sub_id is missing or has no format');
  }
  return subject as SubjectId;
}

/** Validates one SET; throws SetError with the reason. Replay (jti) is the caller's: it needs the store. */
export async function validateSet(token: string, check: SetCheck): Promise<ValidSet> {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_SET_CHARS) throw new SetError('invalid_request', 'set_malformed', 'empty or oversized token');
  let payload: Record<string, unknown>;
  let typ: string | undefined;
  try {
    const verified = await jwtVerify(token, check.keys, {
      issuer: check.issuer,
      audience: check.audience,
      algorithms: [...check.algorithms],
      clockTolerance: check.clockToleranceSec ?? 60,
      currentDate: new Date(check.now),
      maxTokenAge: check.maxAgeSec,
      requiredClaims: ['iss', 'iat', 'jti', 'events'],
    });
    payload = verified.payload as Record<string, unknown>;
    typ = verified.protectedHeader.typ;
  } catch (error) {
    throw fromJose(error);
  }
  // SSF 1.0 §4.1.10 / RFC 8417 §2.3: explicit typing keeps an ID token or access token from passing as a SET.
  if (typ?.toLowerCase() !== 'secevent+jwt' && typ?.toLowerCase() !== 'application/secevent+jwt') throw new SetError('invalid_request', 'set_wrong_type', `typ ${String(typ).slice(0, 40)}`);
  // RFC 8417 §2.2: a SET is not an ID token: no `sub` with a nonce, and the events claim names the statement.
  if ('nonce' in payload) throw new SetError('invalid_request', 'set_malformed', 'a SET must not contain a nonce');
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw new SetError('invalid_request', 'set_malformed', 'jti missing or too long');
  const events = payload.events;
  if (typeof events !== 'object' || events === null || Array.isArray(events)) throw new SetError('invalid_request', 'set_malformed', 'events is not an object');
  const types = Object.keys(events);
  // SSF 1.0 §4.1.8: one event per SET.
  if (types.length !== 1) throw new SetError('invalid_request', 'set_malformed', `events has ${types.length} members, expected 1`);
  const type = types[0]!;
  if (!KNOWN_EVENTS.has(type)) throw new SetError('invalid_request', 'set_unknown_event', `event type ${type.slice(0, 120)}`);
  const event = (events as Record<string, unknown>)[type];
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new SetError('invalid_request', 'set_malformed', 'event payload is not an object');
  const record = event as Record<string, unknown>;
  return { jti: payload.jti, iat: payload.iat as number, type, event: record, subject: type === EVENT.verification || type === EVENT.streamUpdated ? { format: 'opaque' } : subjectOf(payload, record) };
}
