// The acr an authorization request asks for: acr_values (voluntary) and the claims parameter's id_token.acr, read as "at least this".
import type { KoaContextWithOIDC } from 'oidc-provider';
import { weakestKnownAcr, type AcrValue } from '../mfa/assurance.js';

function weakestRequested(acrValues: unknown, claims: unknown): AcrValue | undefined {
  const requested: string[] = [];
  if (typeof acrValues === 'string') requested.push(...acrValues.split(' ').filter(Boolean));
  const claim = (claims as { id_token?: { acr?: { value?: unknown; values?: unknown } } } | undefined)?.id_token?.acr;
  if (typeof claim?.value === 'string') requested.push(claim.value);
  if (Array.isArray(claim?.values)) requested.push(...claim.values.filter((v): v is string => typeof v === 'string'));
  return weakestKnownAcr(requested);
}

/**
 * The weakest broker acr the request accepts: the session must reach at least this. Values the broker does not issue
 * are ignored; undefined when the request names none of the broker's.
 */
export function requestedAcr(ctx: KoaContextWithOIDC): AcrValue | undefined {
  return weakestRequested(ctx.oidc.params?.acr_values, ctx.oidc.claims);
}

/** The same, read from an interaction's stored authorization parameters (the claims parameter as the JSON text it came as). */
export function requestedAcrOfParams(params: Record<string, unknown>): AcrValue | undefined {
  let claims: unknown;
  if (typeof params.claims === 'string') {
    try {
      claims = JSON.parse(params.claims) as unknown;
    } catch {
      claims = undefined;
    }
  }
  return weakestRequested(params.acr_values, claims);
}
