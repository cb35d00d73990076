// The acr an authorization request asks for: acr_values (voluntary) and the claims parameter's id_token.acr, read as "at least this".
import type { KoaContextWithOIDC } from 'oidc-provider';
import { weakestKnownAcr, type AcrValue } from '../mfa/assurance.js';

/**
 * The weakest broker acr the request accepts: the session must reach at least this. Values the broker does not issue
 * are ignored; undefined when the request names none of the broker's.
 */
export function requestedAcr(ctx: KoaContextWithOIDC): AcrValue | undefined {
  const requested: string[] = [];
  const acrValues = ctx.oidc.params?.acr_values;
  if (typeof acrValues === 'string') requested.push(...acrValues.split(' ').filter(Boolean));
  const claim = (ctx.oidc.claims as { id_token?: { acr?: { value?: unknown; values?: unknown } } } | undefined)?.id_token?.acr;
  if (typeof claim?.value === 'string') requested.push(claim.value);
  if (Array.isArray(claim?.values)) requested.push(...claim.values.filter((v): v is string => typeof v === 'string'));
  return weakestKnownAcr(requested);
}
