// The zod schema of the broker configuration (JSON file named by BROKER_CONFIG, merged with environment variables).
import { z } from 'zod';
import { auditConfigSchema } from '../audit/config.js';
import { storeConfigSchema } from '../store/create-store.js';
import { rateLimitsSchema } from '../http/rate-limit-policy.js';
import { clientRedirectIssues, redirectUriProblem } from './redirect-uri.js';
import { trustProxySchema } from './trust-proxy.js';
import { serverSchema } from './server.js';
import { contrastWithWhite } from './branding.js';
import { authorizationServerSchema } from '../clients/config.js';
import { ssfSchema } from './ssf-schema.js';
import { mfaConfigSchema } from './mfa-schema.js';
import { clientRiskSchema, riskConfigSchema } from './risk.js';

/** A client redirect or post-logout redirect URI (rules in redirect-uri.ts). */
const redirectUri = z.string().superRefine((value, ctx) => {
  const problem = redirectUriProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const issuerUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && !url.search && !url.hash;
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL with no query or fragment');

export const clientSchema = z
  .strictObject({
    clientId: z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
    name: z.string().max(255).optional().describe('Shown on the consent page.'),
    clientSecret: z.string().min(32, 'must be at least 32 characters').optional().describe('Confidential clients; "$ENV_NAME" recommended.'),
    public: z.boolean().default(false).describe('Public client (SPA, native): no secret, PKCE S256 required.'),
    tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post', 'none']).optional(),
    redirectUris: z.array(redirectUri).min(1),
    postLogoutRedirectUris: z.array(redirectUri).default([]),
    backchannelLogoutUri: z
      .string()
      .refine((value) => URL.canParse(value) && ['https:', 'http:'].includes(new URL(value).protocol) && !new URL(value).hash, 'must be an absolute http(s) URL without a fragment')
      .optional()
      .describe('OpenID Connect Back-Channel Logout 1.0: where the broker POSTs a logout token when a session of this client ends.'),
    allowedProviders: z.array(z.string().min(1)).optional().describe('Upstream provider ids this client may use (default: all).'),
    risk: clientRiskSchema.optional().describe('Risk weights/thresholds over the risk section, a minimum acr, and an access policy (README: Risk-graded access).'),
    skipConsent: z.boolean().default(false).describe('First-party app: no consent page.'),
    introspects: z
      .array(z.string().min(1))
      .default([])
      .describe('Resource server: client ids whose tokens this client may introspect besides its own ("*" for every client).'),
    idTokenSignedResponseAlg: z.enum(['ES256', 'RS256']).default('ES256'),
    scopes: z.array(z.string()).default(['openid', 'profile', 'email', 'groups', 'offline_access']),
    requirePushedAuthorizationRequests: z.boolean().optional().describe('This client must push its authorization requests (RFC 9126; needs authorizationServer.pushedAuthorizationRequests.enabled).'),
    dpopBoundAccessTokens: z.boolean().optional().describe('This client\'s access tokens are DPoP-bound: every token request needs a DPoP proof (RFC 9449; needs authorizationServer.dpop.enabled).'),
    deviceFlow: z.boolean().optional().describe('This client may use the device authorization grant (RFC 8628; needs authorizationServer.deviceFlow.enabled).'),
  })
  .superRefine((client, ctx) => {
    if (client.public && client.clientSecret) ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: 'a public client must not have a secret' });
    if (!client.public && !client.clientSecret) ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: 'required for a confidential client (or set "public": true)' });
    for (const issue of clientRedirectIssues(client.redirectUris, client.postLogoutRedirectUris)) ctx.addIssue({ code: 'custom', ...issue });
  });

export type ClientConfig = z.output<typeof clientSchema>;

export const providerFileSchema = z.strictObject({
  $schema: z.string().optional(),
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 lowercase letters, digits, "-" or "_"'),
  type: z.string().min(1),
  name: z.string().min(1).max(255),
  domains: z
    .array(z.string().regex(/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/i, 'must be a domain name (example.com), or "*." and a domain for its subdomains (*.example.com)'))
    .default([]),
  reverifyIntervalSeconds: z.number().int().positive().optional().describe("Re-verify this provider's sessions this often (default: session.reverifyIntervalSeconds)."),
  config: z.record(z.string(), z.unknown()),
});
export type ProviderFile = z.input<typeof providerFileSchema>;

const seconds = (fallback: number, description: string) => z.number().int().positive().default(fallback).describe(description);

export const tokensSchema = z
  .strictObject({
    accessTokenTtl: seconds(600, 'Access token lifetime, seconds.'),
    idTokenTtl: seconds(3600, 'ID token lifetime, seconds.'),
    refreshTokenTtl: seconds(14 * 86400, 'Refresh token lifetime, seconds (rotated on every use).'),
    authorizationCodeTtl: seconds(60, 'Authorization code lifetime, seconds.'),
    sessionTtl: seconds(86400, 'Broker browser session lifetime, seconds.'),
    interactionTtl: seconds(600, 'Time allowed to finish a login, seconds.'),
  })
  .prefault({});

export const loginThrottleSchema = z
  .strictObject({
    perUser: z.number().int().min(1).max(10_000).default(10).describe('Local sign-in attempts per username (counted before the password is checked; a success clears them) within the window.'),
    perIp: z.number().int().min(1).max(1_000_000).default(50).describe('Local sign-in attempts per client IP within the window (successes are given back).'),
    windowSeconds: seconds(900, 'Counting window and lock-out time of the local sign-in limits, seconds.'),
  })
  .prefault({});

export const sessionSchema = z
  .strictObject({
    reverifyIntervalSeconds: seconds(900, 'Re-verify every session against its upstream this often.'),
    upstreamRefreshSkewSeconds: seconds(300, 'Refresh upstream access tokens when less than this remains.'),
    reverifyGraceSeconds: seconds(3600, 'How long a session outlives an unreachable upstream (timeouts, 5xx) before it ends (upstream_unreachable).'),
    reverifyRetrySeconds: seconds(30, 'First retry after an unreachable upstream; doubles on each failure, capped by the interval.'),
    sweepIntervalSeconds: seconds(30, 'How often each instance starts a sweep for sessions due for re-verification (20% jitter); a sweep spreads its checks over 80% of it, yielding to requests.'),
    sweepBatchSize: seconds(500, 'Due sessions one sweep takes from the store at a time.'),
    sweepConcurrency: seconds(16, 'Checks one instance runs at the same time.'),
    sweepLeaseSeconds: seconds(300, 'A taken session comes back due after this long if its checker died.'),
  })
  .prefault({});

export const keysSchema = z
  .strictObject({
    publishBeforeUseSeconds: seconds(86400, 'A new signing key is in the JWKS this long before it signs: longer than any relying party caches the JWKS.'),
    clockSkewSeconds: seconds(60, 'Clock skew allowed to relying parties: a retired key stays published for the longest token lifetime plus this.'),
    rotateEverySeconds: z.number().int().positive().optional().describe('Rotate the store-kept signing keys automatically when the newest is this old (default: only by `vestibule keys rotate`).'),
  })
  .prefault({});

export const brandingSchema = z
  .strictObject({
    productName: z.string().trim().min(1).max(80).default('Vestibule').describe('Product name in every page header and title.'),
    logoUrl: z
      .string()
      .max(2048)
      .refine((value) => value.startsWith('https://') || /^\/(?!\/)/.test(value), 'must be an https URL or a path on the broker ("/…")')
      .optional()
      .describe('Logo image URL (https, or a path on the broker); the CSP allows exactly its origin.'),
    logoFile: z.string().min(1).optional().describe('Logo image file (.png, .svg, .jpg, .webp; at most 64 KiB), embedded in the pages; relative to the configuration file.'),
    accentColor: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #2457c5')
      .refine((value) => contrastWithWhite(value) >= 4.5, 'must contrast at least 4.5:1 with white (WCAG AA): buttons show white text on it')
      .default('#2457c5')
      .describe('Accent colour of buttons, links and the focus ring (#rrggbb, contrast with white at least 4.5:1).'),
    supportUrl: z
      .string()
      .max(2048)
      .refine((value) => /^(https?:\/\/|mailto:)/.test(value), 'must be an http(s) or mailto: URL')
      .optional()
      .describe('Where error pages send people for help (https or mailto:), with the request reference.'),
  })
  .refine((branding) => !(branding.logoUrl && branding.logoFile), 'set logoUrl or logoFile, not both')
  .prefault({});

export const metricsSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Export Prometheus metrics at /metrics.'),
    host: z.string().min(1).default('127.0.0.1').describe('Listen address of the separate metrics listener.'),
    port: z.number().int().min(1).max(65535).default(9464).describe('Port of the separate metrics listener.'),
    onMainPort: z.boolean().default(false).describe('Serve /metrics on the main port instead (metrics.token required in production).'),
    token: z.string().min(32, 'must be at least 32 characters').optional().describe('Bearer token a scraper must send; "$ENV_NAME" recommended.'),
  })
  .prefault({});

export const configFileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    issuer: issuerUrl.optional().describe('Public issuer URL (default http://localhost:$PORT).'),
    port: z.number().int().min(1).max(65535).default(3000),
    host: z.string().min(1).optional().describe('Listen address (default localhost in development, 0.0.0.0 in production).'),
    trustProxy: trustProxySchema,
    server: serverSchema.describe('HTTP listener limits (slow clients) and the drain time on SIGTERM (README: Reliability).'),
    cookieKeys: z.array(z.string().min(32, 'must be at least 32 characters')).min(1).optional().describe('Keys signing cookies; first signs, all verify.'),
    jwksFile: z.string().min(1).optional().describe('Private JWKS (JSON) with the signing keys: an ES256 key, and an RS256 key for clients that need it.'),
    vaultKeys: z.array(z.string().regex(/^[A-Za-z0-9_-]{43}=?$|^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes, base64 or base64url')).min(1).optional().describe('AES-256-GCM keys for the upstream token vault; first encrypts, all decrypt.'),
    store: storeConfigSchema.default({ type: 'memory' }),
    clients: z
      .array(clientSchema)
      .superRefine((clients, ctx) => {
        // On the list rather than the whole file, so it still runs when an unrelated setting has the wrong type.
        const seen = new Map<string, number>();
        clients.forEach((client, index) => {
          if (seen.has(client.clientId)) {
            ctx.addIssue({ code: 'custom', path: [index, 'clientId'], message: `duplicate client id "${client.clientId}" (also clients[${seen.get(client.clientId)}])` });
          } else seen.set(client.clientId, index);
        });
      })
      .default([]),
    providersDir: z.string().default('providers').describe('Directory of upstream provider JSON files (top level only).'),
    providers: z.array(z.unknown()).default([]).describe('Inline provider definitions, same shape as a providers/*.json file.'),
    tokens: tokensSchema,
    session: sessionSchema,
    loginThrottle: loginThrottleSchema,
    keys: keysSchema.describe('Signing keys kept in the store (when jwksFile is not set): publication before use, retention, schedule.'),
    upstreamTimeoutMs: z.number().int().min(100).max(120_000).default(10_000).describe('Timeout of every upstream HTTP call, ms.'),
    upstreamCircuit: z
      .strictObject({
        failureThreshold: z.number().int().min(1).max(1000).default(5).describe('Consecutive upstream failures (timeouts, connection errors, 5xx; not 4xx) that open a connector\'s circuit.'),
        cooldownSeconds: z.number().int().min(1).max(3600).default(30).describe('How long an open circuit refuses calls before one probe call is let through.'),
      })
      .default({ failureThreshold: 5, cooldownSeconds: 30 })
      .describe('Per-instance circuit breaker of each OIDC upstream: stop calling a failing IdP for a while, probe it, recover (README: Upstream outages).'),
    maxBodyBytes: z.number().int().min(1024).max(10 * 1024 * 1024).default(1024 * 1024).describe('Largest accepted request body.'),
    auditLog: z.string().default('stdout').describe('Older form of audit.stdout / audit.file: "stdout", "off", or a file path for JSON-lines audit records.'),
    audit: auditConfigSchema.optional().describe('Audit trail: hash-chained records to stdout, a rotating file, a Redis stream and a webhook.'),
    metrics: metricsSchema,
    tracing: z.boolean().default(false).describe('OpenTelemetry spans per request and upstream call (needs an SDK registered in the process).'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    rateLimits: rateLimitsSchema.describe('Token-bucket rate limits per IP and per authenticated client (README: Rate limits).'),
    watchConfig: z
      .boolean()
      .default(false)
      .describe('Reload when the configuration file or a providers/*.json file changes (as on SIGHUP), debounced; the file is validated first.'),
    branding: brandingSchema,
    authorizationServer: authorizationServerSchema.describe('Client registration (RFC 7591/7592), Client ID Metadata Documents, resource servers (RFC 8707), PAR, DPoP and the device flow.'),
    ssf: ssfSchema.describe('Shared Signals Framework 1.0 / CAEP 1.0: receivers of upstream events and the broker\'s transmitter (README: Shared Signals).'),
    mfa: mfaConfigSchema.describe('Second factors: TOTP, WebAuthn / passkeys and recovery codes (README: MFA).'),
    risk: riskConfigSchema.describe('Risk-graded access: signals, weights, thresholds, smart lockout, high-risk action, SOAR webhook (README: Risk-graded access).'),
    demo: z.boolean().optional().describe('Run the demo app and sample upstreams (default: on in development without BROKER_CONFIG).'),
  });

export type ConfigFile = z.input<typeof configFileSchema>;
export type ParsedConfigFile = z.output<typeof configFileSchema>;
