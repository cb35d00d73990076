// Software statements (RFC 7591 §2.3): a JWT of client metadata, accepted only when signed by a configured key; its claims win over the plain ones.
import { createLocalJWKSet, errors, jwtVerify, type JWK } from 'jose';

/** Registered JWT claims that describe the statement itself, not the client. */
const JWT_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

export class SoftwareStatementError extends Error {
  override readonly name = 'SoftwareStatementError';
}

export type SoftwareStatementVerifier = (statement: unknown) => Promise<Record<string, unknown>>;

/** Verifies a statement against the configured public keys; with no keys every statement is refused. */
export function softwareStatementVerifier(keys: readonly JWK[], now: () => number = Date.now): SoftwareStatementVerifier {
  const jwks = keys.length > 0 ? createLocalJWKSet({ keys: [...keys] }) : undefined;
  return async (statement) => {
    if (!jwks) throw new SoftwareStatementError('software statements are not accepted by this server');
    if (typeof statement !== 'string' || statement.length > 16_384) throw new SoftwareStatementError('software_statement must be a signed JWT');
    try {
      const { payload } = await jwtVerify(statement, jwks, { currentDate: new Date(now()) });
      return Object.fromEntries(Object.entries(payload).filter(([claim]) => !JWT_CLAIMS.has(claim)));
    } catch (error) {
      const reason = error instanceof errors.JOSEError ? error.code : 'malformed';
      throw new SoftwareStatementError(`software_statement not accepted (${reason})`);
    }
  };
}

/** The registration request with the statement's claims applied over the plain metadata (RFC 7591 §3.1.1). */
export async function applySoftwareStatement(body: Record<string, unknown>, verify: SoftwareStatementVerifier): Promise<Record<string, unknown>> {
  if (!('software_statement' in body)) return body;
  const { software_statement: statement, ...plain } = body;
  const claims = await verify(statement);
  return { ...plain, ...claims };
}
