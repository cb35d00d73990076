// loadExistingGrant for the broker: every grant belongs to the browser's federated session, so ending that session revokes exactly what it issued.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { GrantBindings } from '../session/grant-bindings.js';
import { browserSessionId } from './interaction-policy.js';

type GrantInstance = InstanceType<KoaContextWithOIDC['oidc']['provider']['Grant']>;

/**
 * The grant to use for this authorization, bound to the browser's live federated session:
 * - the session's own grant for the client, or the one the user has just consented to (bound now);
 * - a grant left by an earlier session of the same account in this browser: its consent carries over to a new grant;
 * - for first-party clients (skipConsent) a new grant; otherwise none, and the consent prompt follows.
 */
export function createBoundLoadExistingGrant(skipConsent: ReadonlySet<string>, bindings: GrantBindings) {
  return async function loadExistingGrant(ctx: KoaContextWithOIDC): Promise<GrantInstance | undefined> {
    const { client, session, provider } = ctx.oidc;
    const sessionId = browserSessionId(ctx);
    // No usable federated session: the login check asks the browser to sign in, no grant is made for it.
    if (!client || !session?.accountId || !sessionId) return undefined;
    const accountId = session.accountId;
    const consented = ctx.oidc.result?.consent?.grantId as string | undefined;
    const grantId = consented ?? session.grantIdFor(client.clientId);
    const [found, owner] = grantId ? await Promise.all([provider.Grant.find(grantId), bindings.sessionOf(accountId, grantId)]) : [undefined, undefined];
    const grant = found && found.accountId === accountId && found.clientId === client.clientId ? found : undefined;
    if (grant && owner === sessionId) return grant;
    if (grant && owner === undefined && consented !== undefined && grantId === consented) {
      await bindings.bind(accountId, sessionId, consented);
      return grant;
    }
    if (!grant && !skipConsent.has(client.clientId)) return undefined;
    const fresh = new provider.Grant({ clientId: client.clientId, accountId });
    if (grant) {
      fresh.openid = grant.openid;
      fresh.resources = grant.resources;
      fresh.rejected = grant.rejected;
    } else {
      fresh.addOIDCScope(client.scope ?? 'openid');
      fresh.addOIDCClaims(['sub']);
    }
    const freshId = await fresh.save();
    await bindings.bind(accountId, sessionId, freshId);
    return fresh;
  };
}
