// Upstream OpenID Connect connector (openid-client v6): code flow with PKCE, state and nonce; refresh; RP-initiated logout.
import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import { createRemoteJWKSet, customFetch, decodeJwt, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import {
  ConnectorError,
  type BackchannelLogoutConnector,
  type CallbackInput,
  type Identity,
  type LoginRequest,
  type LoginStart,
  type LogoutConnector,
  type LogoutTokenClaims,
  type RedirectConnector,
  type RefreshableConnector,
  type UpstreamTokens,
} from './connector.js';
import type { ConnectorContext, ConnectorFactory } from './registry.js';
import { mapIdentity } from './claims.js';
import { oidcConfigSchema, type OidcConfig } from './oidc-config.js';
import { buildClientAuth, buildConfiguration } from './oidc-client.js';
import { toConnectorError } from './oidc-errors.js';
import { verifyLogoutToken } from './oidc-logout-token.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { circuitFetch } from './circuit-fetch.js';
import { requestFetch } from './request-fetch.js';
import { isUpstreamDown } from './upstream-down.js';

/** What startLogin keeps in the broker's transaction until the callback. */
interface OidcTransaction {
  state: string;
  /** The sign-in this transaction belongs to: an outage at the callback names it (the page offers the other providers). */
  interactionUid?: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  maxAge?: number;
}

/** ID token claims that describe the authentication event; userinfo may not override them. */
const PROTOCOL_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'auth_time', 'acr', 'amr', 'azp', 'sid', 'jti'] as const;
/** ID token claims that are only useful for validation and are dropped from rawClaims. */
const VALIDATION_ONLY_CLAIMS = new Set(['nonce', 'at_hash', 'c_hash', 's_hash']);

const MAX_PARAM_LENGTH = 8192;

function readTransaction(data: Record<string, unknown>): OidcTransaction {
  const { state, nonce, codeVerifier, redirectUri, maxAge, interactionUid } = data;
  if (typeof state !== 'string' || typeof nonce !== 'string' || typeof codeVerifier !== 'string' || typeof redirectUri !== 'string') {
    throw new ConnectorError('invalid_transaction', 'transaction data is not from the oidc connector');
  }
  return { state, nonce, codeVerifier, redirectUri, ...(typeof maxAge === 'number' ? { maxAge } : {}), ...(typeof interactionUid === 'string' ? { interactionUid } : {}) };
}

/** The `sub` of an ID token the connector validated earlier (kept in the vault); undefined when absent or unreadable. */
function subjectOf(idToken: string | undefined): string | undefined {
  if (!idToken) return undefined;
  try {
    return decodeJwt(idToken).sub;
  } catch {
    return undefined;
  }
}

/** RFC 7636 S256: base64url(SHA-256(verifier)), as openid-client's calculatePKCECodeChallenge computes it, without a WebCrypto job. */
function pkceChallenge(codeVerifier: string): string {
  return createHash('sha256').update(codeVerifier).digest('base64url');
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export class OidcConnector implements RedirectConnector, RefreshableConnector, LogoutConnector, BackchannelLogoutConnector {
  readonly type = 'oidc';
  readonly id: string;
  readonly displayName: string;
  readonly domains: readonly string[];
  private readonly logger: Logger;
  private configPromise: Promise<client.Configuration> | undefined;
  /** The upstream's signing keys for logout tokens (jose caches and refreshes them). */
  private logoutKeys: JWTVerifyGetKey | undefined;
  /** This instance's circuit for the upstream (none when the context gives no breaker). */
  private readonly breaker: CircuitBreaker | undefined;
  /** Every upstream call: the context's fetch (timed), else undici's request behind fetch's signature, guarded by the circuit. */
  private readonly fetch: typeof fetch;
  /** Timeout of each upstream call, ms: the provider's `timeoutMs`, else the broker's upstreamTimeoutMs. */
  private readonly timeoutMs: number;

  constructor(
    base: { id: string; name: string; domains: string[] },
    private readonly config: OidcConfig,
    private readonly context: ConnectorContext,
    private readonly clientAuth: client.ClientAuth,
  ) {
    this.id = base.id;
    this.displayName = base.name;
    this.domains = [...base.domains];
    this.logger = context.logger.child({ connectorId: base.id });
    this.breaker = context.circuitBreaker?.(base.id);
    const upstreamFetch = context.fetch ?? requestFetch;
    this.fetch = this.breaker ? circuitFetch(this.breaker, upstreamFetch) : upstreamFetch;
    this.timeoutMs = config.timeoutMs ?? context.httpTimeoutMs;
  }

  /** The upstream's openid-client Configuration, discovered once; a failed discovery is retried on the next call. */
  private configuration(): Promise<client.Configuration> {
    this.configPromise ??= buildConfiguration(this.config, this.clientAuth, this.timeoutMs, this.fetch).catch(
      (err: unknown) => {
        this.configPromise = undefined;
        throw toConnectorError(err, 'discovery', this.id);
      },
    );
    return this.configPromise;
  }

  /**
   * Starting a sign-in makes no upstream call once discovery is cached, so while the circuit is not closed it asks the
   * upstream first (its discovery document, or its JWKS when endpoints are configured): refused at once while the circuit
   * is open or a probe is in flight, otherwise this call is the probe. The browser is never sent to a dead upstream.
   */
  private async probeIfTripped(): Promise<void> {
    if (!this.breaker || this.breaker.state === 'closed') return;
    const url = this.config.endpoints?.jwks ?? `${this.config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let response: Response;
    try {
      response = await this.fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw toConnectorError(err, 'discovery', this.id);
    }
    await response.body?.cancel();
    if (response.status >= 500) throw toConnectorError(new TypeError(`probe answered ${response.status}`), 'discovery', this.id);
  }

  async startLogin(request: LoginRequest): Promise<LoginStart> {
    try {
      return await this.start(request);
    } catch (err) {
      throw isUpstreamDown(err) ? err.during(request.interactionUid) : err;
    }
  }

  private async start(request: LoginRequest): Promise<LoginStart> {
    await this.probeIfTripped();
    const configuration = await this.configuration();
    const codeVerifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const params: Record<string, string> = {
      ...this.config.authorizationParams,
      response_type: 'code',
      redirect_uri: request.callbackUrl,
      scope: this.config.scopes.join(' '),
      state: request.state,
      nonce,
      code_challenge: pkceChallenge(codeVerifier),
      code_challenge_method: 'S256',
    };
    if (this.config.passLoginHint && request.loginHint) params.login_hint = request.loginHint;
    if (this.config.passAcrValues && request.acrValues?.length) params.acr_values = this.upstreamAcrValues(request.acrValues).join(' ');
    const maxAge = this.config.passMaxAge ? request.maxAge : undefined;
    if (maxAge !== undefined) params.max_age = String(maxAge);
    if (this.config.passPromptLogin && request.forceLogin) {
      const prompts = new Set((params.prompt ?? '').split(' ').filter((p) => p && p !== 'none'));
      prompts.add('login');
      params.prompt = [...prompts].join(' ');
    }
    const transaction: OidcTransaction = { state: request.state, interactionUid: request.interactionUid, nonce, codeVerifier, redirectUri: request.callbackUrl };
    if (maxAge !== undefined) transaction.maxAge = maxAge;
    return {
      redirectUrl: client.buildAuthorizationUrl(configuration, params).href,
      transactionData: { ...transaction },
    };
  }

  async handleCallback(input: CallbackInput, transactionData: Record<string, unknown>): Promise<Identity> {
    const tx = readTransaction(transactionData);
    try {
      return await this.finish(input, tx);
    } catch (err) {
      throw isUpstreamDown(err) ? err.during(tx.interactionUid) : err;
    }
  }

  private async finish(input: CallbackInput, tx: OidcTransaction): Promise<Identity> {
    const params = input.params;
    for (const [name, value] of Object.entries(params)) {
      if (typeof value !== 'string' || value.length > MAX_PARAM_LENGTH) {
        throw new ConnectorError('invalid_callback', `callback parameter ${name.slice(0, 40)} is malformed or too long`);
      }
    }
    if (params.state !== tx.state) {
      throw new ConnectorError('state_mismatch', 'callback state does not match the transaction');
    }
    const configuration = await this.configuration();
    const issuer = configuration.serverMetadata().issuer;
    // RFC 9207: a present iss must name this upstream; when the upstream advertises it, every response carries it
    // (section 2: success and error responses alike; an error without it is a forgery or a broken upstream, not an outage).
    if (params.iss !== undefined && params.iss !== issuer) {
      throw new ConnectorError('issuer_mismatch', 'authorization response iss parameter names another issuer (mix-up)');
    }
    if (params.iss === undefined && configuration.serverMetadata().authorization_response_iss_parameter_supported === true) {
      throw new ConnectorError('issuer_mismatch', 'authorization response lacks the iss parameter the upstream advertises');
    }
    if (params.error === undefined && !params.code) {
      throw new ConnectorError('invalid_callback', 'callback has neither code nor error');
    }

    const callbackUrl = new URL(tx.redirectUri);
    for (const [name, value] of Object.entries(params)) callbackUrl.searchParams.set(name, value);

    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
        expectedState: tx.state,
        expectedNonce: tx.nonce,
        pkceCodeVerifier: tx.codeVerifier,
        idTokenExpected: true,
        ...(tx.maxAge !== undefined ? { maxAge: tx.maxAge } : {}),
      });
    } catch (err) {
      throw this.rejected(toConnectorError(err, 'callback', this.id));
    }
    const idClaims = tokens.claims();
    if (!idClaims) throw this.rejected(new ConnectorError('invalid_id_token', 'token response has no ID token'));

    const upstreamTokens = this.tokensFrom(tokens);
    const userinfo = await this.userinfo(configuration, upstreamTokens.accessToken, idClaims.sub);
    const identity = this.identityFrom({ ...idClaims }, userinfo, upstreamTokens);
    this.logger.debug({ acr: identity.acr }, 'upstream login validated');
    return identity;
  }

  async refresh(identity: Identity): Promise<Identity> {
    const previous = identity.upstreamTokens;
    if (!previous?.refreshToken) {
      throw new ConnectorError('refresh_unavailable', 'no upstream refresh token for this session', { status: 400 });
    }
    const configuration = await this.configuration();
    let response: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
    try {
      response = await client.refreshTokenGrant(configuration, previous.refreshToken);
    } catch (err) {
      const error = toConnectorError(err, 'refresh', this.id);
      this.logger.warn({ code: error.code, detail: error.detail }, 'upstream refresh failed');
      throw error;
    }
    const tokens = this.tokensFrom(response, previous);
    const originalSub = subjectOf(previous.idToken);
    const claims = response.claims();
    // OIDC Core 12.2: a refreshed ID token must be about the same subject.
    if (claims && originalSub !== undefined && claims.sub !== originalSub) {
      throw new ConnectorError('upstream_subject_mismatch', 'refreshed ID token names another subject', { status: 401 });
    }
    const sub = claims?.sub ?? originalSub;
    const userinfo = sub === undefined ? undefined : await this.userinfo(configuration, tokens.accessToken, sub);
    if (!claims && !userinfo) return { ...identity, upstreamTokens: tokens };
    return this.identityFrom({ ...identity.rawClaims, ...(claims ?? {}) }, userinfo, tokens, identity);
  }

  async logout(identity: Identity, returnTo: string, state: string): Promise<{ redirectUrl: string } | undefined> {
    if (!this.config.upstreamLogout) return undefined;
    let configuration: client.Configuration;
    try {
      configuration = await this.configuration();
    } catch (err) {
      this.logger.warn({ code: (err as ConnectorError).code }, 'upstream unavailable; skipping upstream logout');
      return undefined;
    }
    if (!configuration.serverMetadata().end_session_endpoint) return undefined;
    const params: Record<string, string> = { post_logout_redirect_uri: returnTo, state, client_id: this.config.clientId };
    const idToken = identity.upstreamTokens?.idToken;
    if (idToken) params.id_token_hint = idToken;
    return { redirectUrl: client.buildEndSessionUrl(configuration, params).href };
  }

  /** Back-Channel Logout 1.0 §2.6: a logout token from this upstream, checked like its ID tokens are. */
  async verifyLogoutToken(token: string): Promise<LogoutTokenClaims> {
    const metadata = (await this.configuration()).serverMetadata();
    if (!metadata.jwks_uri) throw new ConnectorError('invalid_logout_token', 'the upstream publishes no jwks_uri', { status: 400 });
    this.logoutKeys ??= createRemoteJWKSet(new URL(metadata.jwks_uri), {
      timeoutDuration: this.timeoutMs,
      [customFetch]: this.fetch,
    });
    return verifyLogoutToken(token, {
      issuer: metadata.issuer,
      clientId: this.config.clientId,
      keys: this.logoutKeys,
      algorithms: this.config.idTokenSigningAlgs,
      clockToleranceSec: this.config.clockToleranceSec,
      now: this.context.now(),
    });
  }

  /** Translates the broker's acr values to the upstream's through the inverse of acrMap. */
  private upstreamAcrValues(requested: readonly string[]): string[] {
    const out = new Set<string>();
    for (const value of requested) {
      const upstream = Object.entries(this.config.acrMap).filter(([, broker]) => broker === value).map(([u]) => u);
      for (const u of upstream.length ? upstream : [value]) out.add(u);
    }
    return [...out];
  }

  private tokensFrom(response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers, previous?: UpstreamTokens): UpstreamTokens {
    const tokens: UpstreamTokens = { accessToken: response.access_token };
    const refreshToken = response.refresh_token ?? previous?.refreshToken;
    if (refreshToken) tokens.refreshToken = refreshToken;
    const idToken = response.id_token ?? previous?.idToken;
    if (idToken) tokens.idToken = idToken;
    const expiresIn = response.expiresIn();
    if (expiresIn !== undefined) tokens.expiresAt = this.context.now() + expiresIn * 1000;
    const scope = response.scope ?? previous?.scope;
    if (scope) tokens.scope = scope;
    return tokens;
  }

  private async userinfo(configuration: client.Configuration, accessToken: string, sub: string): Promise<Record<string, unknown> | undefined> {
    if (!this.config.userinfo || !configuration.serverMetadata().userinfo_endpoint) return undefined;
    try {
      return { ...(await client.fetchUserInfo(configuration, accessToken, sub)) };
    } catch (err) {
      throw this.rejected(toConnectorError(err, 'userinfo', this.id));
    }
  }

  private identityFrom(
    idClaims: Record<string, unknown>,
    userinfo: Record<string, unknown> | undefined,
    upstreamTokens: UpstreamTokens,
    previous?: Identity,
  ): Identity {
    const rawClaims: Record<string, unknown> = { ...idClaims, ...(userinfo ?? {}) };
    for (const name of PROTOCOL_CLAIMS) {
      if (idClaims[name] !== undefined) rawClaims[name] = idClaims[name];
    }
    for (const name of VALIDATION_ONLY_CLAIMS) delete rawClaims[name];
    const sub = String(rawClaims.sub ?? '');
    const upstreamAcr = typeof rawClaims.acr === 'string' ? rawClaims.acr : undefined;
    const authTime = typeof rawClaims.auth_time === 'number' ? rawClaims.auth_time : undefined;
    const identity: Identity = {
      connectorId: this.id,
      subject: sub,
      groups: [],
      amr: [...new Set(stringList(rawClaims.amr).map((v) => this.config.amrMap[v] ?? v))],
      authTime: authTime ?? previous?.authTime ?? Math.floor(this.context.now() / 1000),
      rawClaims,
      upstreamTokens,
    };
    const acr = upstreamAcr === undefined ? previous?.acr : (this.config.acrMap[upstreamAcr] ?? upstreamAcr);
    if (acr !== undefined) identity.acr = acr;
    if (identity.amr.length === 0 && previous) identity.amr = previous.amr;
    const sid = typeof rawClaims.sid === 'string' ? rawClaims.sid : undefined;
    if (sid) identity.connectorData = { sid };
    else if (previous?.connectorData) identity.connectorData = previous.connectorData;
    try {
      return mapIdentity(identity, this.config.claims);
    } catch (err) {
      throw this.rejected(err as ConnectorError);
    }
  }

  private rejected(error: ConnectorError): ConnectorError {
    this.logger.info({ code: error.code, detail: error.detail }, 'upstream answer rejected');
    return error;
  }
}

export const oidcConnectorFactory: ConnectorFactory<typeof oidcConfigSchema> = {
  type: 'oidc',
  configSchema: oidcConfigSchema,
  async create(base, config, context) {
    if (config.allowInsecureRequests && context.production) {
      throw new Error(`provider ${base.id}: allowInsecureRequests is for development only and is refused in production`);
    }
    if (config.allowInsecureRequests) {
      context.logger.warn({ connectorId: base.id }, 'allowInsecureRequests is on: plain-HTTP upstream allowed (development only)');
    }
    let clientAuth: client.ClientAuth;
    try {
      clientAuth = await buildClientAuth(config, context.baseDir);
    } catch (err) {
      throw new Error(`provider ${base.id}: cannot load the private_key_jwt key: ${(err as Error).message}`, { cause: err });
    }
    return new OidcConnector(base, config, context, clientAuth);
  },
};
