// Decides which upstream a login goes to: the client's allow-list, then idp_hint, login_hint's email domain, or the only one left.
import type { Connector } from '../connectors/connector.js';

export interface ChooseInput {
  idpHint?: string;
  /** login_hint or an email typed on the choose page. */
  email?: string;
}

export type ChooseResult =
  | { kind: 'connector'; connector: Connector }
  | { kind: 'ask'; connectors: Connector[] }
  | { kind: 'error'; code: 'unknown_provider' | 'no_provider_for_domain' };

export function allowedConnectors(all: readonly Connector[], allowList: readonly string[] | undefined): Connector[] {
  return allowList ? all.filter((c) => allowList.includes(c.id)) : [...all];
}

export function domainOf(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  if (at < 1 || at === email.length - 1) return undefined;
  return email.slice(at + 1).trim().toLowerCase();
}

/** Connectors claiming this domain: exact matches first, then "*.parent" wildcards. */
export function connectorsForDomain(connectors: readonly Connector[], domain: string): Connector[] {
  const exact = connectors.filter((c) => c.domains.some((d) => d.toLowerCase() === domain));
  if (exact.length) return exact;
  return connectors.filter((c) => c.domains.some((d) => d.startsWith('*.') && domain.endsWith(d.slice(1).toLowerCase())));
}

export function chooseConnector(allowed: readonly Connector[], input: ChooseInput): ChooseResult {
  if (input.idpHint) {
    const hinted = allowed.find((c) => c.id === input.idpHint);
    return hinted ? { kind: 'connector', connector: hinted } : { kind: 'error', code: 'unknown_provider' };
  }
  if (input.email) {
    const domain = domainOf(input.email);
    const matches = domain ? connectorsForDomain(allowed, domain) : [];
    if (matches.length === 1) return { kind: 'connector', connector: matches[0]! };
    if (matches.length > 1) return { kind: 'ask', connectors: matches };
  }
  if (allowed.length === 1) return { kind: 'connector', connector: allowed[0]! };
  if (allowed.length === 0) return { kind: 'error', code: 'unknown_provider' };
  return { kind: 'ask', connectors: [...allowed] };
}
