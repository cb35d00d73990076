// Zod schema of an upstream OpenID Connect provider's `config` section (providers/*.json with "type": "oidc").
import { z } from 'zod';
import { claimMappingSchema } from './claims.js';

/** Asymmetric JWS algorithms only: `none` and HS* (shared-secret) ID tokens are never accepted. */
export const idTokenAlgSchema = z.enum([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

export const DEFAULT_ID_TOKEN_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** Authorization request parameters the connector sets itself; extra parameters may not override them. */
const RESERVED_AUTH_PARAMS = new Set([
  'client_id',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'request',
  'request_uri',
  'acr_values',
  'max_age',
]);

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** True for hosts that never leave the machine (where plain HTTP is tolerable in development). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) || hostname.endsWith('.localhost');
}

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a single scope token');

export const oidcConfigSchema = z
  .object({
    /** The upstream's Issuer Identifier. Discovery reads `${issuer}/.well-known/openid-configuration` unless `endpoints` is given. */
    issuer: httpUrl,
    /** Explicit endpoints instead of discovery (for upstreams without a discovery document). */
    endpoints: z
      .object({
        authorization: httpUrl,
        token: httpUrl,
        jwks: httpUrl,
        userinfo: httpUrl.optional(),
        endSession: httpUrl.optional(),
        /** Whether the upstream sends the RFC 9207 `iss` authorization response parameter (then it is required). */
        issParameterSupported: z.boolean().default(false),
      })
      .strict()
      .optional(),
    clientId: z.string().min(1).max(512),
    /** Client secret; write "$ENV_NAME" in the file to read it from the environment. */
    clientSecret: z.string().min(1).max(4096).optional(),
    tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).default('client_secret_basic'),
    /** private_key_jwt: the private key as a JWK object ... */
    privateKeyJwk: z.record(z.string(), z.unknown()).optional(),
    /** ... or a file holding a PKCS#8 PEM key or a JWK (relative paths resolve against the provider file's directory). */
    privateKeyFile: z.string().min(1).optional(),
    /** private_key_jwt signing algorithm; default the JWK's `alg`, else RS256. */
    privateKeyAlg: idTokenAlgSchema.optional(),
    /** Key id put in the client assertion header; default the JWK's `kid`. */
    privateKeyKid: z.string().min(1).optional(),
    scopes: z
      .array(scopeToken)
      .min(1)
      .default(['openid', 'email', 'profile'])
      .refine((s) => s.includes('openid'), 'must include "openid"'),
    /** ID token signature algorithms accepted. */
    idTokenSigningAlgs: z.array(idTokenAlgSchema).min(1).default([...DEFAULT_ID_TOKEN_ALGS]),
    /** Also call the userinfo endpoint and merge its claims (ID token protocol claims always win). */
    userinfo: z.boolean().default(false),
    claims: claimMappingSchema.default(claimMappingSchema.parse({})),
    /** Forward the downstream client's acr_values (translated back through `acrMap`). */
    passAcrValues: z.boolean().default(false),
    /** Forward the downstream max_age (the upstream auth_time is then checked). */
    passMaxAge: z.boolean().default(false),
    /** Forward prompt=login when the downstream client asked for it. */
    passPromptLogin: z.boolean().default(false),
    /** Forward the downstream login_hint. */
    passLoginHint: z.boolean().default(true),
    /** Upstream acr value -> broker acr value. Unlisted values pass through unchanged. */
    acrMap: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** Upstream amr value -> broker amr value (RFC 8176). Unlisted values pass through unchanged. */
    amrMap: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** Extra authorization request parameters (e.g. Google `hd`, `access_type: "offline"`). */
    authorizationParams: z
      .record(z.string().min(1), z.string())
      .default({})
      .refine((p) => Object.keys(p).every((k) => !RESERVED_AUTH_PARAMS.has(k)), 'may not set parameters the connector controls'),
    /** Send the browser to the upstream's end_session_endpoint when the user logs out of the broker. */
    upstreamLogout: z.boolean().default(true),
    /** Timeout of each upstream HTTP call, ms (default: the broker's httpTimeoutMs). */
    timeoutMs: z.number().int().min(100).max(120_000).optional(),
    /** Allowed clock difference for ID token exp/iat/auth_time, seconds. */
    clockToleranceSec: z.number().int().min(0).max(300).default(30),
    /** Development only: allow plain-HTTP upstream endpoints on loopback hosts. Refused in production. */
    allowInsecureRequests: z.boolean().default(false),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.tokenEndpointAuthMethod === 'private_key_jwt') {
      if ((config.privateKeyJwk === undefined) === (config.privateKeyFile === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['privateKeyJwk'], message: 'private_key_jwt needs exactly one of privateKeyJwk or privateKeyFile' });
      }
    } else if (config.clientSecret === undefined) {
      ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: `${config.tokenEndpointAuthMethod} needs clientSecret` });
    }
    const urls: [string, string][] = [['issuer', config.issuer]];
    for (const [name, value] of Object.entries(config.endpoints ?? {})) {
      if (typeof value === 'string') urls.push([`endpoints.${name}`, value]);
    }
    for (const [path, value] of urls) {
      // A value that is no URL at all already has its own issue (httpUrl); zod still runs this refinement.
      if (!URL.canParse(value)) continue;
      const url = new URL(value);
      if (url.protocol === 'http:' && !(config.allowInsecureRequests && isLoopbackHost(url.hostname))) {
        ctx.addIssue({
          code: 'custom',
          path: path.split('.'),
          message: 'must be https (plain http only with allowInsecureRequests on a loopback host, in development)',
        });
      }
    }
  });

export type OidcConfig = z.output<typeof oidcConfigSchema>;
