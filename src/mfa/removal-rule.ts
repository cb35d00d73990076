// Whether a user may remove one of their factors (pure): never the last authenticator of an account a client requires MFA for.
import type { ClientRiskConfig } from '../config/risk.js';
import { acrSatisfies, ACR_MFA } from './assurance.js';
import type { FactorKind } from './factor.js';

/** What the rule needs of a client: its name, the providers it allows, its minimum acr and access-policy rules. */
export interface ClientMfaSettings {
  clientId: string;
  name?: string;
  allowedProviders?: string[];
  risk?: Pick<ClientRiskConfig, 'minAcr' | 'accessPolicy'>;
}

/**
 * The names of the clients that require MFA of a user signed in through `connectorId`: the client admits that provider
 * and asks for at least the MFA acr on every sign-in (risk.minAcr) or in an allow rule of its access policy that could
 * match that provider.
 */
export function clientsRequiringMfa(clients: Iterable<ClientMfaSettings>, connectorId: string): string[] {
  const names: string[] = [];
  for (const client of clients) {
    if (client.allowedProviders && !client.allowedProviders.includes(connectorId)) continue;
    const minAcr = client.risk?.minAcr;
    const byRule = (client.risk?.accessPolicy?.rules ?? []).some(
      (rule) => rule.action === 'allow' && rule.minAcr !== undefined && acrSatisfies(rule.minAcr, ACR_MFA) && (!rule.source.providers || rule.source.providers.includes(connectorId)),
    );
    if ((minAcr !== undefined && acrSatisfies(minAcr, ACR_MFA)) || byRule) names.push(client.name ?? client.clientId);
  }
  return names;
}

export type RemovalDecision =
  /** Remove the factor (first in `remove`) and, when it was the last authenticator, the recovery sets too (codes stand in for a lost factor, never alone). */
  | { allowed: true; remove: string[]; lastAuthenticator: boolean }
  | { allowed: false; reason: 'no_such_factor' | 'recovery_not_removable' }
  | { allowed: false; reason: 'required_by_client'; clients: string[] };

/**
 * Removing `factorId` from the account's `factors`. Recovery codes are replaced, not removed on their own. Removing the
 * last authenticator app or passkey is refused while a client requires MFA of the account (`requiredBy`): the user would
 * be stopped at that client's next sign-in with no factor and no way to add one at medium risk.
 */
export function decideRemoval(factors: readonly { id: string; kind: FactorKind }[], factorId: string, requiredBy: readonly string[]): RemovalDecision {
  const target = factors.find((factor) => factor.id === factorId);
  if (!target) return { allowed: false, reason: 'no_such_factor' };
  if (target.kind === 'recovery') return { allowed: false, reason: 'recovery_not_removable' };
  const lastAuthenticator = !factors.some((factor) => factor.id !== factorId && factor.kind !== 'recovery');
  if (!lastAuthenticator) return { allowed: true, remove: [factorId], lastAuthenticator };
  if (requiredBy.length > 0) return { allowed: false, reason: 'required_by_client', clients: [...requiredBy] };
  return { allowed: true, remove: [factorId, ...factors.filter((factor) => factor.kind === 'recovery').map((factor) => factor.id)], lastAuthenticator };
}
