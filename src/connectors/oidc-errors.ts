// Translates openid-client / oauth4webapi failures into ConnectorErrors with stable codes and log-safe details.
import * as client from 'openid-client';
import { ConnectorError } from './connector.js';
import { UpstreamDownError } from './upstream-down.js';

/** Which upstream call failed: decides how a token-endpoint error is reported. */
export type OidcStage = 'discovery' | 'callback' | 'userinfo' | 'refresh';

const ID_TOKEN_CODES = new Set([
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
]);

/** Short, token-free description of an error and its cause chain. */
function describe(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const claim = (current.cause as { claim?: unknown } | undefined)?.claim;
    parts.push(typeof claim === 'string' ? `${current.message} (${claim})` : current.message);
    current = current.cause;
  }
  return parts.join(': ').slice(0, 500);
}

/** Safe excerpt of an upstream-provided string (error codes/descriptions are attacker-influenced). */
function excerpt(value: unknown): string {
  return typeof value === 'string' ? value.replace(/[^\x20-\x7E]/g, '?').slice(0, 200) : '';
}

function isTimeout(err: unknown): boolean {
  if (err instanceof client.ClientError && err.code === 'OAUTH_TIMEOUT') return true;
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    if (current.name === 'TimeoutError') return true;
    current = current.cause;
  }
  return false;
}

/**
 * Token-endpoint errors that mean the upstream refuses the broker itself (wrong client secret or key, client unknown,
 * grant not allowed for it): a misconfiguration to fix, not the user's fault and not an outage (RFC 6749 section 5.2).
 */
const CLIENT_REJECTED = new Set(['invalid_client', 'unauthorized_client']);

function clientRejected(stage: OidcStage, status: number, error: string, cause: unknown): ConnectorError {
  return new ConnectorError(
    'upstream_client_rejected',
    `${stage}: upstream token endpoint answered ${status} error=${error || '(none)'} (it refuses the broker's client credentials or registration)`,
    { status: 502, cause },
  );
}

/**
 * The upstream's discovery document names an issuer other than the configured one (OpenID Connect Discovery 1.0 section 4.3:
 * it MUST be identical): another OP, or this one under another name. A misconfiguration or an impersonation, not an outage.
 */
export function issuerMismatch(configured: string, discovered: unknown): ConnectorError {
  return new ConnectorError('upstream_issuer_mismatch', `discovery: the metadata names issuer "${excerpt(discovered)}", not the configured "${configured}"`, { status: 502 });
}

/** The `error` parameter of the first WWW-Authenticate challenge that has one. */
function challengeError(err: client.WWWAuthenticateChallengeError): string {
  const challenges: readonly client.WWWAuthenticateChallenge[] = Array.isArray(err.cause) ? err.cause : [];
  return excerpt(challenges.map((c) => c.parameters?.error).find((e) => typeof e === 'string'));
}

/** A ConnectorError somewhere in the cause chain (openid-client wraps what its fetch threw, e.g. an open circuit). */
function connectorErrorIn(err: unknown): ConnectorError | undefined {
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    if (current instanceof ConnectorError) return current;
    current = current.cause;
  }
  return undefined;
}

/** Maps any error thrown while talking to connector `connectorId`'s upstream into a ConnectorError (an outage: UpstreamDownError). */
export function toConnectorError(err: unknown, stage: OidcStage, connectorId: string): ConnectorError {
  const known = connectorErrorIn(err);
  if (known) return known;
  if (isTimeout(err)) {
    return new UpstreamDownError(connectorId, 'upstream_timeout', `upstream did not answer in time during ${stage}`, { cause: err });
  }
  if (err instanceof client.AuthorizationResponseError) {
    const description = excerpt(err.error_description);
    return new ConnectorError(
      'upstream_error',
      `upstream returned error=${excerpt(err.error)}${description ? ` (${description})` : ''}`,
      { status: err.error === 'access_denied' ? 403 : 400, cause: err },
    );
  }
  if (err instanceof client.ResponseBodyError) {
    // A 5xx is an outage whatever its body says (RFC 6749 section 5.2 errors are 400 or 401).
    if (err.status >= 500) return new UpstreamDownError(connectorId, 'upstream_unavailable', `${stage}: upstream answered ${err.status} error=${excerpt(err.error)}`, { cause: err });
    if (stage !== 'userinfo' && CLIENT_REJECTED.has(err.error)) return clientRejected(stage, err.status, excerpt(err.error), err);
    const detail = `${stage}: upstream token endpoint answered ${err.status} error=${excerpt(err.error)}`;
    if (stage === 'refresh') {
      return err.error === 'invalid_grant'
        ? new ConnectorError('upstream_revoked', detail, { status: 401, cause: err })
        : new ConnectorError('upstream_refresh_failed', detail, { status: 502, cause: err });
    }
    if (stage === 'userinfo') return new ConnectorError('userinfo_failed', detail, { status: 502, cause: err });
    return new ConnectorError('token_exchange_failed', detail, { status: 400, cause: err });
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    const error = challengeError(err);
    // At the token endpoint a 401 challenge is about the client's authentication (there is no user token to refuse).
    if (stage !== 'userinfo' && (err.status === 401 || CLIENT_REJECTED.has(error))) return clientRejected(stage, err.status, error, err);
    const detail = `${stage}: upstream answered ${err.status} with a WWW-Authenticate challenge${error ? ` error=${error}` : ''}`;
    return new ConnectorError(stage === 'userinfo' ? 'userinfo_failed' : 'token_exchange_failed', detail, { status: 502, cause: err });
  }
  if (err instanceof client.ClientError) {
    const code = err.code ?? '';
    const detail = `${stage}: ${describe(err)}`;
    const cause = err.cause as { attribute?: unknown; expected?: unknown; body?: { issuer?: unknown } } | undefined;
    if (stage === 'discovery' && code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && cause?.attribute === 'issuer') return issuerMismatch(String(cause.expected), cause.body?.issuer);
    if (stage === 'discovery') return new UpstreamDownError(connectorId, 'upstream_unavailable', detail, { cause: err });
    if (ID_TOKEN_CODES.has(code) || (code === 'OAUTH_INVALID_RESPONSE' && /JWT|ID Token|"alg"/i.test(detail))) {
      return new ConnectorError('invalid_id_token', detail, { status: 400, cause: err });
    }
    if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && stage === 'callback') {
      return new ConnectorError('invalid_callback', detail, { status: 400, cause: err });
    }
    if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_RESPONSE_IS_NOT_JSON') {
      return new UpstreamDownError(connectorId, 'upstream_unavailable', detail, { cause: err });
    }
    return new ConnectorError('invalid_upstream_response', detail, { status: 502, cause: err });
  }
  // fetch() network failures (connection refused, DNS, TLS) surface as TypeError.
  if (err instanceof TypeError) {
    return new UpstreamDownError(connectorId, 'upstream_unavailable', `${stage}: ${describe(err)}`, { cause: err });
  }
  return new UpstreamDownError(connectorId, 'upstream_unavailable', `${stage}: ${describe(err)}`, { cause: err });
}
