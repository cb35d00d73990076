// A small MCP-style protected resource for the demo and the tests: RFC 9728 metadata, Bearer challenges with resource_metadata, JWT access tokens (RFC 9068) checked with jose.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

export interface DemoResourceOptions {
  /** Shown in its metadata (resource_name). */
  name: string;
  /** The broker's issuer: the one authorization server it trusts. */
  issuer: string;
  /** Scopes of its read tool; the first is needed for any call and named in its 401 challenge. */
  scopes: readonly string[];
  /**
   * A scope its "write" tool needs on top (answered 403 insufficient_scope without it, so a client can step up).
   * It is published in scopes_supported with the others: an MCP client registers scopes_supported, so the step-up stays within its registration.
   */
  writeScope?: string;
  /** Where the broker's keys are fetched (default issuer + /jwks). */
  jwksUri?: string;
  host?: string;
  port?: number;
}

export interface DemoResource {
  /** Its resource identifier (RFC 8707 / RFC 9728 `resource`): http://host:port/mcp. */
  resource: string;
  metadataUrl: string;
  server: Server;
  close(): Promise<void>;
}

const RESOURCE_PATH = '/mcp';
const METADATA_PATH = '/.well-known/oauth-protected-resource';

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** What the resource answers a request with: its metadata, a challenge, a refusal or the call's result. */
function handler(options: DemoResourceOptions, resource: () => string, keys: ReturnType<typeof createRemoteJWKSet>) {
  const metadataUrl = () => `${new URL(resource()).origin}${METADATA_PATH}${RESOURCE_PATH}`;
  const challenge = (res: ServerResponse, status: number, error?: string, scope?: string) => {
    const parts = [`resource_metadata="${metadataUrl()}"`, ...(error ? [`error="${error}"`] : []), `scope="${scope ?? options.scopes[0]}"`];
    send(res, status, { error: error ?? 'unauthorized' }, { 'www-authenticate': `Bearer ${parts.join(', ')}` });
  };
  return async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://resource').pathname;
    if (req.method === 'GET' && (path === METADATA_PATH || path === METADATA_PATH + RESOURCE_PATH)) {
      const scopesSupported = [...options.scopes, ...(options.writeScope ? [options.writeScope] : [])];
      return send(res, 200, { resource: resource(), resource_name: options.name, authorization_servers: [options.issuer], scopes_supported: scopesSupported, bearer_methods_supported: ['header'] }, { 'cache-control': 'max-age=300' });
    }
    if (path !== RESOURCE_PATH && path !== `${RESOURCE_PATH}/write`) return send(res, 404, { error: 'not_found' });
    const token = /^Bearer ([\x21-\x7e]+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return challenge(res, 401);
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, { issuer: options.issuer, audience: resource(), typ: 'at+jwt', algorithms: ['ES256', 'RS256'] }));
    } catch (error) {
      // Wrong audience, expired, forged, or not a JWT: the same answer (RFC 6750 §3.1), the reason only in the description.
      const reason = error instanceof errors.JOSEError ? error.code : 'malformed';
      const parts = [`resource_metadata="${metadataUrl()}"`, 'error="invalid_token"', `error_description="${reason}"`];
      return send(res, 401, { error: 'invalid_token' }, { 'www-authenticate': `Bearer ${parts.join(', ')}` });
    }
    const granted = new Set(String(claims.scope ?? '').split(' '));
    const needed = path.endsWith('/write') && options.writeScope ? [options.scopes[0]!, options.writeScope] : [options.scopes[0]!];
    if (!needed.every((scope) => granted.has(scope))) return challenge(res, 403, 'insufficient_scope', needed.join(' '));
    return send(res, 200, { resource: resource(), subject: claims.sub, client: claims.client_id, scope: claims.scope, tool: path.endsWith('/write') ? 'write' : 'read' });
  };
}

/** Starts a resource server on a loopback port. */
export async function startDemoResource(options: DemoResourceOptions): Promise<DemoResource> {
  const keys = createRemoteJWKSet(new URL(options.jwksUri ?? `${options.issuer}/jwks`));
  let resource = '';
  const handle = handler(options, () => resource, keys);
  const server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { error: 'server_error' }));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  resource = `http://${host}:${port}${RESOURCE_PATH}`;
  return {
    resource,
    metadataUrl: `http://${host}:${port}${METADATA_PATH}${RESOURCE_PATH}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
