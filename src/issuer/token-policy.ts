// Who may introspect or revoke a token: its own client, or a resource server configured for it; and only while the session that issued it lives.
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ClientConfig } from '../config/schema.js';
import type { SessionRepository } from '../session/federated-session.js';
import type { GrantBindings } from '../session/grant-bindings.js';

interface PolicyClient {
  clientId: string;
}

interface PolicyToken {
  clientId?: string;
  accountId?: string;
  grantId?: string;
}

export interface TokenPolicyDeps {
  clients: readonly ClientConfig[];
  sessions: SessionRepository;
  bindings: GrantBindings;
  now: () => number;
}

export function createTokenPolicies(deps: TokenPolicyDeps) {
  const introspects = new Map(deps.clients.map((client) => [client.clientId, new Set(client.introspects)]));

  /** A token of a user is live only while the federated session that issued its grant lives. */
  async function sessionLives(token: PolicyToken): Promise<boolean> {
    if (!token.accountId) return true; // client_credentials: no user, no session
    if (!token.grantId) return false;
    // The owner's one index field, as findAccount reads it: not the account's whole session index (O(its sessions) per call).
    const owner = await deps.bindings.sessionOf(token.accountId, token.grantId);
    return owner !== undefined && deps.sessions.isLive(token.accountId, owner, deps.now());
  }

  return {
    /** RFC 7662 section 4: the caller must be authorised; anyone else learns only `active: false`. */
    async introspectionAllowed(_ctx: KoaContextWithOIDC, client: PolicyClient, token: PolicyToken): Promise<boolean> {
      const allowed = introspects.get(client.clientId);
      const mayRead = token.clientId === client.clientId || allowed?.has('*') || (token.clientId !== undefined && allowed?.has(token.clientId));
      return Boolean(mayRead) && sessionLives(token);
    },
    /** RFC 7009 section 2.1: a client revokes only tokens issued to it. */
    async revocationAllowed(_ctx: KoaContextWithOIDC, client: PolicyClient, token: PolicyToken): Promise<boolean> {
      if (token.clientId === client.clientId) return true;
      throw new errors.UnauthorizedClient('the token was not issued to this client');
    },
  };
}
