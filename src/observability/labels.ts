// Bounded label values: ids only from configuration, codes only when they look like codes; anything else is "other".

const CODE = /^[a-z][a-z0-9_.:-]{0,63}$/;

/** A machine-readable reason or error code from the code base, else "other" (never a free-form message). */
export function codeLabel(value: string | undefined): string {
  if (value === undefined || value === '') return 'none';
  return CODE.test(value) ? value : 'other';
}

/** The value when configuration declares it, else "other". */
export function configuredLabel(allowed: ReadonlySet<string>, value: string | undefined): string {
  if (value === undefined) return 'none';
  return allowed.has(value) ? value : 'other';
}

/** Grant types oidc-provider can grant; a client may send any string in grant_type. */
const GRANT_TYPES = new Set([
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:openid:params:grant-type:ciba',
  'urn:ietf:params:oauth:grant-type:token-exchange',
]);

export const grantTypeLabel = (value: string | number | boolean | undefined): string => (typeof value === 'string' && GRANT_TYPES.has(value) ? value : 'other');
