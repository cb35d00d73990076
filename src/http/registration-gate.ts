// In front of oidc-provider's /reg: initial access token or open mode, size limit, software statement and registration policy; RFC 7591 errors, audited.
import type { IncomingMessage } from 'node:http';
import type { Context, Middleware } from 'koa';
import type { Auditor } from '../audit/auditor.js';
import type { RegistrationConfig } from '../clients/config.js';
import type { InitialAccessTokens } from '../clients/initial-access-tokens.js';
import type { RegistrationContextState } from '../clients/registered-clients.js';
import { applyRegistrationPolicy, type RegistrationErrorCode } from '../clients/registration-policy.js';
import { applySoftwareStatement, SoftwareStatementError, type SoftwareStatementVerifier } from '../clients/software-statement.js';
import { HttpError } from './errors.js';
import { readBody } from './form.js';

export interface RegistrationGateDeps {
  registration: RegistrationConfig;
  /** Every scope a client may register (issuer scopes and the resource servers'). */
  scopes: readonly string[];
  tokens: InitialAccessTokens;
  verifyStatement: SoftwareStatementVerifier;
  auditor: Pick<Auditor, 'record'>;
  /** oidc-provider's registration path (its default, /reg). */
  path?: string;
}

class RegistrationRefused extends Error {
  constructor(
    readonly status: number,
    readonly error: RegistrationErrorCode | 'invalid_token' | 'invalid_request',
    readonly description: string,
    readonly reason: string = error,
  ) {
    super(error);
  }
}

/** oidc-provider reads the body itself: hand it the checked metadata as if it were the request body. */
function replayBody(req: IncomingMessage, body: Buffer): void {
  req.headers['content-length'] = String(body.length);
  Object.defineProperty(req, 'readable', { value: true, configurable: true });
  Object.defineProperty(req, 'iterator', {
    configurable: true,
    value: async function* iterator() {
      yield body;
    },
  });
}

const bearer = (ctx: Context) => /^Bearer ([\x21-\x7e]+)$/i.exec(ctx.get('authorization'))?.[1];

async function readMetadata(ctx: Context, limit: number): Promise<unknown> {
  if (!ctx.is('application/json')) throw new RegistrationRefused(400, 'invalid_request', 'the registration must be application/json');
  const declared = Number(ctx.get('content-length') || 0);
  let raw: Buffer;
  try {
    if (declared > limit) throw new HttpError(413, 'payload_too_large');
    raw = await readBody(ctx.req, limit);
  } catch (error) {
    ctx.set('Connection', 'close');
    if (error instanceof HttpError && error.status === 413) throw new RegistrationRefused(400, 'invalid_client_metadata', `the client metadata is larger than ${limit} bytes`, 'metadata_too_large');
    throw new RegistrationRefused(400, 'invalid_request', 'the request body could not be read');
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RegistrationRefused(400, 'invalid_client_metadata', 'the registration is not valid JSON', 'malformed_json');
  }
}

export function registrationGate(deps: RegistrationGateDeps): Middleware {
  const { registration } = deps;
  const on = registration.enabled || registration.open;
  const path = deps.path ?? '/reg';
  const clientPath = new RegExp(`^${path}/[^/]+$`);
  return async (ctx, next) => {
    const create = ctx.method === 'POST' && ctx.path === path;
    const update = ctx.method === 'PUT' && clientPath.test(ctx.path);
    if (!on || (!create && !update)) return next();
    const state = ctx.state as RegistrationContextState;
    const audit = { ip: ctx.ip, requestId: ctx.state.requestId as string | undefined };
    try {
      // Authenticate first: the policy is not shown to whoever has no token.
      const token = bearer(ctx);
      let spend: (() => Promise<boolean>) | undefined;
      if (create) {
        if (token === undefined && registration.open) state.registrationOrigin = 'open';
        else {
          const checked = registration.enabled ? await deps.tokens.check(token) : ({ ok: false, reason: 'unknown' } as const);
          if (!checked.ok) throw new RegistrationRefused(401, 'invalid_token', 'a valid initial access token is required', `initial_access_token_${checked.reason}`);
          state.registrationOrigin = 'token';
          spend = () => deps.tokens.spend(checked.record);
        }
      }
      const body = await readMetadata(ctx, registration.maxMetadataBytes);
      let metadata: Record<string, unknown>;
      try {
        metadata = typeof body === 'object' && body !== null && !Array.isArray(body) ? await applySoftwareStatement(body as Record<string, unknown>, deps.verifyStatement) : (body as Record<string, unknown>);
      } catch (error) {
        if (error instanceof SoftwareStatementError) throw new RegistrationRefused(400, 'invalid_software_statement', error.message);
        throw error;
      }
      const mode = state.registrationOrigin === 'open' ? 'open' : 'token';
      const checked = applyRegistrationPolicy(metadata, { grantTypes: registration.grantTypes, authMethods: registration.authMethods, scopes: deps.scopes, mode });
      if (!checked.ok) throw new RegistrationRefused(400, checked.error, checked.description);
      if (spend && !(await spend())) throw new RegistrationRefused(401, 'invalid_token', 'a valid initial access token is required', 'initial_access_token_spent');
      // An update names its client (RFC 7592 §2.2); oidc-provider checks it against the registration access token.
      if (update && 'client_id' in metadata) checked.metadata.client_id = metadata.client_id;
      replayBody(ctx.req, Buffer.from(JSON.stringify(checked.metadata)));
    } catch (error) {
      if (!(error instanceof RegistrationRefused)) throw error;
      ctx.status = error.status;
      ctx.set('Cache-Control', 'no-store');
      if (error.status === 401) ctx.set('WWW-Authenticate', `Bearer error="invalid_token"`);
      ctx.body = { error: error.error, error_description: error.description };
      (ctx.state.log as { warn?: (fields: object, message: string) => void } | undefined)?.warn?.({ code: error.error, reason: error.reason, detail: error.description }, 'client registration refused');
      deps.auditor.record({ event: create ? 'client.registered' : 'client.updated', outcome: 'failure', reason: error.reason, ...audit, details: { origin: state.registrationOrigin ?? 'none' } });
      return;
    }
    await next();
  };
}
