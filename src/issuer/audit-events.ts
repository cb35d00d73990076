// Feeds oidc-provider's events (token grants, revocation, logout) into the audit trail.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Auditor } from '../audit/auditor.js';

function base(ctx: KoaContextWithOIDC) {
  return {
    ip: ctx.ip,
    requestId: ctx.state?.requestId as string | undefined,
    clientId: ctx.oidc?.client?.clientId,
  };
}

export function auditProviderEvents(provider: Provider, auditor: Auditor): void {
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? 'unknown');
    const accountId = ctx.oidc.entities.Account?.accountId ?? ctx.oidc.entities.Grant?.accountId;
    auditor.record({ event: grantType === 'refresh_token' ? 'token.refreshed' : 'token.issued', outcome: 'success', accountId, ...base(ctx), details: { grantType } });
  });
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: Error & { error_description?: string }) => {
    const grantType = String(ctx.oidc?.params?.grant_type ?? 'unknown');
    auditor.record({ event: grantType === 'refresh_token' ? 'token.refreshed' : 'token.issued', outcome: 'failure', reason: error.message, ...base(ctx), details: { grantType } });
  });
  provider.on('revocation.error', (ctx: KoaContextWithOIDC, error: Error) => {
    auditor.record({ event: 'token.revoked', outcome: 'failure', reason: error.message, ...base(ctx) });
  });
  const revoked = (tokenType: string) => (token: { accountId?: string; clientId?: string }) =>
    auditor.record({ event: 'token.revoked', outcome: 'success', accountId: token.accountId, clientId: token.clientId, details: { tokenType } });
  provider.on('access_token.destroyed', revoked('access_token'));
  provider.on('refresh_token.destroyed', revoked('refresh_token'));
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    auditor.record({ event: 'logout', outcome: 'success', accountId: ctx.oidc.session?.accountId, ...base(ctx) });
  });
}
