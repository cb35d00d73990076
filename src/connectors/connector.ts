// THE SEAM to upstream identity providers: a small base plus optional capabilities, checked with type guards.

/** What every connector returns after a successful upstream login. */
export interface Identity {
  connectorId: string;
  /** The upstream's stable subject (OIDC sub, SAML NameID, local username). */
  subject: string;
  email?: string;
  emailVerified?: boolean;
  name?: string;
  groups: string[];
  /** Authentication context class the upstream asserted (OIDC acr, SAML AuthnContextClassRef). */
  acr?: string;
  /** Authentication methods (RFC 8176 values where known). */
  amr: string[];
  /** When the upstream authenticated the user, seconds since epoch (falls back to now). */
  authTime?: number;
  /** When the upstream said this session must end (SAML SessionNotOnOrAfter), ms since epoch. */
  sessionNotOnOrAfter?: number;
  /** Upstream claims or attributes, for claim mapping only; never sent to relying parties as-is. */
  rawClaims: Record<string, unknown>;
  /** Opaque per-connector state kept with the session (e.g. SAML SessionIndex, upstream id_token for logout). */
  connectorData?: Record<string, unknown>;
  /**
   * Upstream tokens (OIDC). The broker moves them into the encrypted token vault (src/session) and never
   * stores them in the session record nor sends them to relying parties.
   */
  upstreamTokens?: UpstreamTokens;
}

export interface UpstreamTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** Access token expiry, ms since epoch. */
  expiresAt?: number;
  scope?: string;
}

/** What the broker knows about the downstream request when it sends the user upstream. */
export interface LoginRequest {
  /** oidc-provider interaction uid. */
  interactionUid: string;
  /** Absolute URL the upstream returns to: `${issuer}/callback/${connectorId}`. */
  callbackUrl: string;
  /** Opaque, unguessable value bound to the stored transaction (OIDC state / SAML RelayState). */
  state: string;
  loginHint?: string;
  /** Downstream acr_values (space separated), passed on when the provider config allows. */
  acrValues?: string[];
  maxAge?: number;
  /** True when the downstream asked for prompt=login. */
  forceLogin?: boolean;
  /** Re-verification without the user's involvement (SAML IsPassive): the upstream answers at once, success or failure. */
  passive?: boolean;
}

/** Redirect (or auto-POST) instruction plus the data to keep in the transaction until the callback. */
export interface LoginStart {
  /** Redirect the browser here (HTTP-Redirect binding, OIDC). */
  redirectUrl?: string;
  /** Or auto-submit this form (HTTP-POST binding). */
  postForm?: { action: string; fields: Record<string, string> };
  /** Connector-private data stored with the transaction (PKCE verifier, nonce, SAML request id). */
  transactionData: Record<string, unknown>;
}

/** Callback parameters as received: query for GET, urlencoded body for POST. */
export interface CallbackInput {
  method: 'GET' | 'POST';
  params: Record<string, string>;
  /** The full URL the callback was received on (needed for OIDC iss/state checks). */
  url: URL;
}

export interface Connector {
  readonly id: string;
  readonly type: string;
  readonly displayName: string;
  /** Email domains routed to this connector by home-realm discovery. */
  readonly domains: readonly string[];
  /** Release timers, sockets (metadata refresh, keep-alive). */
  close?(): Promise<void>;
}

/** Upstreams the browser is sent to (OIDC, SAML). */
export interface RedirectConnector extends Connector {
  startLogin(request: LoginRequest): Promise<LoginStart>;
  /** Validates the upstream answer against the transaction; throws ConnectorError on any problem. */
  handleCallback(input: CallbackInput, transactionData: Record<string, unknown>): Promise<Identity>;
}

/** Username + password checked by the broker itself (local accounts). */
export interface PasswordConnector extends Connector {
  /** Returns undefined for a wrong username or password (same timing for both). */
  login(username: string, password: string): Promise<Identity | undefined>;
  /** The one name a login name counts under (login throttle): aliases of an account (e.g. its email) map to one key. */
  loginKey?(login: string): string;
  /** The subject a login name belongs to, without checking a password (failed sign-ins count against that account); undefined when unknown. */
  subjectOf?(login: string): string | undefined;
}

/** Upstreams that can refresh tokens or confirm that the user is still valid. */
export interface RefreshableConnector extends Connector {
  /** Returns the refreshed identity, or throws ConnectorError('upstream_revoked') when the upstream says no. */
  refresh(identity: Identity): Promise<Identity>;
}

/** Upstreams whose accounts the broker can look up without the user (local accounts): re-verification asks it. */
export interface AccountCheckConnector extends Connector {
  /** True while the account behind `identity` (its subject) still exists with the credential it signed in with. */
  accountStillValid(identity: Identity): boolean;
}

/**
 * Upstreams that can re-verify a session only through the user's browser (SAML: no back channel to ask). When a session
 * is due, it is marked; the next authorization goes upstream (`passive` or forced) before it may reuse the session.
 */
export interface BrowserReauthConnector extends RedirectConnector {
  readonly reauthentication: {
    /** `passive`: IsPassive, the user sees nothing when the upstream still has a session; `force`: ForceAuthn, the user signs in again. */
    mode: 'passive' | 'force';
    /** How long a marked session still serves refresh grants and userinfo before it ends (upstream_reauth_timeout), ms. */
    graceMs: number;
  };
}

/** What a valid upstream logout token names (OpenID Connect Back-Channel Logout 1.0). */
export interface LogoutTokenClaims {
  sub?: string;
  sid?: string;
  jti: string;
  /** Until when the token could be replayed, ms since epoch. */
  expiresAt: number;
}

/** Upstreams that log users out through the back channel (OIDC Back-Channel Logout 1.0). */
export interface BackchannelLogoutConnector extends Connector {
  /** Validates a logout token (signature, iss, aud, iat, events, sub/sid, jti, no nonce); throws ConnectorError otherwise. */
  verifyLogoutToken(token: string): Promise<LogoutTokenClaims>;
}

/** Upstreams with a logout endpoint to send the browser to. */
export interface LogoutConnector extends Connector {
  /** URL (or form) that ends the upstream session; `returnTo` is where the upstream sends the browser back. */
  logout(identity: Identity, returnTo: string, state: string): Promise<{ redirectUrl?: string; postForm?: { action: string; fields: Record<string, string> } } | undefined>;
}

/** Upstreams that may send an answer nobody asked for (SAML IdP-initiated); the broker calls this when no transaction matches. */
export interface UnsolicitedResponseConnector extends Connector {
  /** Never a login: returns where to send the browser (e.g. the client's initiate_login_uri), or throws ConnectorError. */
  handleUnsolicited(input: CallbackInput): Promise<{ redirectUrl: string }>;
}

export const isRedirectConnector = (c: Connector): c is RedirectConnector =>
  typeof (c as RedirectConnector).startLogin === 'function' && typeof (c as RedirectConnector).handleCallback === 'function';
export const isBrowserReauthConnector = (c: Connector): c is BrowserReauthConnector =>
  isRedirectConnector(c) && typeof (c as BrowserReauthConnector).reauthentication === 'object';
export const isPasswordConnector = (c: Connector): c is PasswordConnector => typeof (c as PasswordConnector).login === 'function';
export const isRefreshableConnector = (c: Connector): c is RefreshableConnector =>
  typeof (c as RefreshableConnector).refresh === 'function';
export const isUnsolicitedResponseConnector = (c: Connector): c is UnsolicitedResponseConnector =>
  typeof (c as UnsolicitedResponseConnector).handleUnsolicited === 'function';
export const isAccountCheckConnector = (c: Connector): c is AccountCheckConnector => typeof (c as AccountCheckConnector).accountStillValid === 'function';
export const isBackchannelLogoutConnector = (c: Connector): c is BackchannelLogoutConnector =>
  typeof (c as BackchannelLogoutConnector).verifyLogoutToken === 'function';
export const isLogoutConnector = (c: Connector): c is LogoutConnector => typeof (c as LogoutConnector).logout === 'function';

/**
 * A refused upstream answer. `code` is stable and safe to show; `detail` is for logs and the audit trail only
 * (never tokens or full assertions).
 */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  readonly status: number;
  readonly expose = true;
  constructor(
    readonly code: string,
    readonly detail: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(code, { cause: options.cause });
    this.status = options.status ?? 400;
  }
}
