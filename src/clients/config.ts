// The authorization-server settings of client registration: dynamic registration, metadata documents, resource servers, PAR, DPoP and the device flow.
import { z } from 'zod';

const GRANT_TYPES = ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'] as const;
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;

/** A public JWK (EC or RSA) that may sign software statements. */
const publicJwkSchema = z.looseObject({
  kty: z.enum(['EC', 'RSA', 'OKP']),
  kid: z.string().min(1).optional(),
  d: z.undefined({ error: 'must be a public key (no "d")' }).optional(),
});

export const resourceServerSchema = z.strictObject({
  identifier: z
    .string()
    .refine((value) => URL.canParse(value) && !new URL(value).hash, 'must be an absolute URI without a fragment (RFC 8707)')
    .describe('The resource indicator (RFC 8707): the audience of its access tokens, e.g. https://mcp.example.com/mcp.'),
  name: z.string().max(255).optional(),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be an RFC 6749 scope token')).min(1).describe('Scopes this resource server understands.'),
  accessTokenTtl: z.number().int().positive().max(86400).default(600).describe('Lifetime of its JWT access tokens (RFC 9068), seconds.'),
});
export type ResourceServerConfig = z.output<typeof resourceServerSchema>;

export const registrationSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Dynamic client registration (RFC 7591) and management (RFC 7592) at /reg, with initial access tokens from `vestibule clients iat create`.'),
    open: z.boolean().default(false).describe('Agent open registration: /reg without an initial access token, public clients only (auth method "none"), rate-limited (rateLimits.routes.registration), expiring when unused.'),
    openClientUnusedSeconds: z.number().int().positive().default(30 * 86400).describe('An openly registered client unused this long is removed, seconds.'),
    grantTypes: z.array(z.enum(GRANT_TYPES)).min(1).default(['authorization_code', 'refresh_token']).describe('Grant types a registered client may ask for.'),
    authMethods: z.array(z.enum(AUTH_METHODS)).min(1).default([...AUTH_METHODS]).describe('Token endpoint authentication methods a registered client may ask for.'),
    scopes: z
      .array(z.string().min(1))
      .default(['openid', 'profile', 'email', 'offline_access'])
      .describe('Scopes a registered client may ask for, besides the configured resource servers\' scopes.'),
    maxMetadataBytes: z.number().int().min(512).max(64 * 1024).default(8 * 1024).describe('Largest registration request body, bytes.'),
    softwareStatementKeys: z
      .array(publicJwkSchema)
      .default([])
      .describe('Public JWKs whose signatures make a software statement (RFC 7591 §2.3) acceptable; with none, a software statement is refused.'),
  })
  .prefault({});

export const metadataDocumentSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Client ID Metadata Documents: an https client_id is fetched, validated and cached.'),
    allowedAddresses: z
      .array(z.enum(['loopback', 'private', 'link-local']))
      .default([])
      .describe('Address ranges a metadata document may be fetched from besides public ones (default none: only public addresses).'),
    maxBytes: z.number().int().min(512).max(64 * 1024).default(5 * 1024).describe('Largest metadata document, bytes.'),
    timeoutMs: z.number().int().min(100).max(10_000).default(2500).describe('Time allowed to fetch a metadata document, ms.'),
    cacheMinSeconds: z.number().int().min(0).default(60).describe('Shortest time a document is cached, whatever its Cache-Control says.'),
    cacheMaxSeconds: z.number().int().positive().default(86400).describe('Longest time a document is cached.'),
    allowedHosts: z.array(z.string().min(1)).optional().describe('Only these client_id hosts are fetched (default: any host).'),
  })
  .prefault({});

export const authorizationServerSchema = z
  .strictObject({
    registration: registrationSchema,
    clientIdMetadataDocument: metadataDocumentSchema,
    resourceServers: z
      .array(resourceServerSchema)
      .default([])
      .superRefine((servers, ctx) => {
        const seen = new Set<string>();
        servers.forEach((server, index) => {
          if (seen.has(server.identifier)) ctx.addIssue({ code: 'custom', path: [index, 'identifier'], message: `duplicate resource server "${server.identifier}"` });
          seen.add(server.identifier);
        });
      })
      .describe('Resource servers (RFC 8707 resource indicators): access tokens for them are audience-restricted JWTs (RFC 9068).'),
    pushedAuthorizationRequests: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Pushed authorization requests (RFC 9126) at /request.'),
        required: z.boolean().default(false).describe('Every client must use PAR (per client: requirePushedAuthorizationRequests).'),
      })
      .prefault({}),
    dpop: z
      .strictObject({ enabled: z.boolean().default(false).describe('DPoP (RFC 9449) sender-constrained tokens (per client: dpopBoundAccessTokens requires it).') })
      .prefault({}),
    deviceFlow: z
      .strictObject({ enabled: z.boolean().default(false).describe('Device authorization grant (RFC 8628) at /device/auth, users enter the code at /device.') })
      .prefault({}),
  })
  .prefault({});

export type AuthorizationServerConfig = z.output<typeof authorizationServerSchema>;
export type RegistrationConfig = AuthorizationServerConfig['registration'];
export type MetadataDocumentConfig = AuthorizationServerConfig['clientIdMetadataDocument'];

/** Every scope of every resource server: registration accepts them (an MCP client registers the resource's scopes_supported). */
export const resourceScopes = (servers: readonly ResourceServerConfig[]) => [...new Set(servers.flatMap((server) => server.scopes))];
