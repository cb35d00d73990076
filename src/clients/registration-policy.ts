// The registration policy (RFC 7591 §2, RFC 8252): which client metadata a dynamic registration may ask for; pure, answers RFC 7591 error codes.
import { redirectUriProblem } from '../config/redirect-uri.js';

export type RegistrationErrorCode = 'invalid_redirect_uri' | 'invalid_client_metadata' | 'invalid_software_statement';

export interface RegistrationPolicy {
  grantTypes: readonly string[];
  authMethods: readonly string[];
  /** Scopes a client may register: the configured ones and every resource server's. */
  scopes: readonly string[];
  /** 'open': agent open registration (no initial access token): public clients only. */
  mode: 'token' | 'open';
}

export type PolicyResult = { ok: true; metadata: Record<string, unknown> } | { ok: false; error: RegistrationErrorCode; description: string };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Set by the broker, never by the client (RFC 7591 §3.2.1, RFC 7592 §2.2). */
const SERVER_ASSIGNED = ['client_id', 'client_secret', 'client_secret_expires_at', 'client_id_issued_at', 'registration_access_token', 'registration_client_uri'];
/** Metadata the broker does not support for registered clients (no private_key_jwt, no pairwise sectors, no request objects). */
const UNSUPPORTED = ['jwks', 'jwks_uri', 'sector_identifier_uri', 'request_uris', 'initiate_login_uri', 'backchannel_logout_uri', 'frontchannel_logout_uri'];
/** URLs shown to users or fetched: https only. */
const WEB_URIS = ['client_uri', 'logo_uri', 'policy_uri', 'tos_uri'];

const refuse = (error: RegistrationErrorCode, description: string): PolicyResult => ({ ok: false, error, description });

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined;
}

/** A loopback http redirect (RFC 8252 §7.3) or a private-use scheme (§7.1): what a native app registers. */
function isNativeRedirect(uri: string): boolean {
  const url = new URL(uri);
  if (url.protocol === 'http:') return LOOPBACK_HOSTS.has(url.hostname);
  return url.protocol !== 'https:';
}

function checkUris(key: string, uris: string[], nativeApp: boolean): PolicyResult | undefined {
  for (const uri of uris) {
    const problem = redirectUriProblem(uri);
    if (problem) return refuse('invalid_redirect_uri', `${key}: ${JSON.stringify(uri.slice(0, 100))} ${problem}`);
    if (!nativeApp && isNativeRedirect(uri)) return refuse('invalid_redirect_uri', `${key}: a web application must use https redirect URIs (loopback and private-use schemes are for native apps)`);
    if (nativeApp && uri.startsWith('https:') && LOOPBACK_HOSTS.has(new URL(uri).hostname)) {
      return refuse('invalid_redirect_uri', `${key}: a native app must use http to a loopback host, not https (RFC 8252 §7.3)`);
    }
  }
  return undefined;
}

/**
 * Checks and completes the metadata of a registration (or an RFC 7592 update): server-assigned fields dropped,
 * application_type "native" when every redirect URI is a native one (RFC 8252), defaults of the open mode applied.
 */
export function applyRegistrationPolicy(input: unknown, policy: RegistrationPolicy): PolicyResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return refuse('invalid_client_metadata', 'the registration must be a JSON object');
  const metadata: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const key of SERVER_ASSIGNED) delete metadata[key];
  for (const key of UNSUPPORTED) if (key in metadata) return refuse('invalid_client_metadata', `${key} is not supported by this server`);

  const grantTypes = metadata.grant_types === undefined ? ['authorization_code'] : stringList(metadata.grant_types);
  if (!grantTypes || grantTypes.length === 0) return refuse('invalid_client_metadata', 'grant_types must be a non-empty array of strings');
  const unknownGrant = grantTypes.find((grant) => !policy.grantTypes.includes(grant));
  if (unknownGrant) return refuse('invalid_client_metadata', `grant type "${unknownGrant.slice(0, 100)}" is not allowed (allowed: ${policy.grantTypes.join(', ')})`);
  metadata.grant_types = grantTypes;
  const usesRedirects = grantTypes.includes('authorization_code');
  metadata.response_types = usesRedirects ? ['code'] : [];
  if (input && 'response_types' in input) {
    const responseTypes = stringList((input as Record<string, unknown>).response_types);
    if (!responseTypes || responseTypes.some((type) => type !== 'code') || (usesRedirects && responseTypes.length === 0)) {
      return refuse('invalid_client_metadata', 'response_types must be ["code"] (the authorization code flow)');
    }
  }

  const redirectUris = metadata.redirect_uris === undefined ? [] : stringList(metadata.redirect_uris);
  if (!redirectUris) return refuse('invalid_redirect_uri', 'redirect_uris must be an array of strings');
  if (usesRedirects && redirectUris.length === 0) return refuse('invalid_redirect_uri', 'redirect_uris is required for the authorization_code grant');
  if (redirectUris.length > 20) return refuse('invalid_redirect_uri', 'at most 20 redirect_uris');
  const postLogout = metadata.post_logout_redirect_uris === undefined ? [] : stringList(metadata.post_logout_redirect_uris);
  if (!postLogout) return refuse('invalid_redirect_uri', 'post_logout_redirect_uris must be an array of strings');

  // Malformed and forbidden URIs first, whatever the application type.
  for (const uri of [...redirectUris, ...postLogout]) {
    const problem = redirectUriProblem(uri);
    if (problem) return refuse('invalid_redirect_uri', `${JSON.stringify(uri.slice(0, 100))} ${problem}`);
  }
  const applicationType = metadata.application_type ?? (redirectUris.length > 0 && redirectUris.every(isNativeRedirect) ? 'native' : 'web');
  if (applicationType !== 'web' && applicationType !== 'native') return refuse('invalid_client_metadata', 'application_type must be "web" or "native"');
  metadata.application_type = applicationType;
  const nativeApp = applicationType === 'native';
  const uriProblem = checkUris('redirect_uris', redirectUris, nativeApp) ?? checkUris('post_logout_redirect_uris', postLogout, nativeApp);
  if (uriProblem) return uriProblem;

  const authMethod = metadata.token_endpoint_auth_method ?? (policy.mode === 'open' ? 'none' : 'client_secret_basic');
  if (typeof authMethod !== 'string' || !policy.authMethods.includes(authMethod)) {
    return refuse('invalid_client_metadata', `token_endpoint_auth_method "${String(authMethod).slice(0, 100)}" is not allowed (allowed: ${policy.authMethods.join(', ')})`);
  }
  if (policy.mode === 'open' && authMethod !== 'none') return refuse('invalid_client_metadata', 'open registration accepts public clients only (token_endpoint_auth_method "none")');
  metadata.token_endpoint_auth_method = authMethod;

  if (metadata.scope !== undefined) {
    if (typeof metadata.scope !== 'string') return refuse('invalid_client_metadata', 'scope must be a space-separated string');
    const unknownScope = metadata.scope.split(' ').find((scope) => scope !== '' && !policy.scopes.includes(scope));
    if (unknownScope) return refuse('invalid_client_metadata', `scope "${unknownScope.slice(0, 100)}" is not allowed`);
  }
  for (const key of WEB_URIS) {
    const value = metadata[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !URL.canParse(value) || new URL(value).protocol !== 'https:') return refuse('invalid_client_metadata', `${key} must be an https URL`);
  }
  return { ok: true, metadata };
}
