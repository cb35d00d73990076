// The broker's own claims for an account (ID token and userinfo), derived from the mapped upstream Identity.
import type { Identity } from '../connectors/connector.js';

/** Claims the issuer serves for the account (ID token and userinfo), filtered later by scope. */
export function brokerClaims(identity: Identity): Record<string, unknown> {
  const claims: Record<string, unknown> = { groups: identity.groups };
  if (identity.email) {
    claims.email = identity.email;
    claims.email_verified = identity.emailVerified ?? false;
  }
  if (identity.name) claims.name = identity.name;
  claims.preferred_username = identity.email ?? identity.subject;
  return claims;
}
