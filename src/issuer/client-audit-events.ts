// Feeds oidc-provider's registration events (RFC 7591 create, RFC 7592 update and delete) and metadata-document failures into the audit trail.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Auditor } from '../audit/auditor.js';

const base = (ctx: KoaContextWithOIDC) => ({ ip: ctx.ip, requestId: ctx.state?.requestId as string | undefined });

export function auditClientEvents(provider: Provider, auditor: Pick<Auditor, 'record'>): void {
  const success = (event: 'client.registered' | 'client.updated' | 'client.deleted') => (ctx: KoaContextWithOIDC, client: { clientId: string }) =>
    auditor.record({ event, outcome: 'success', clientId: client.clientId, ...base(ctx), details: { origin: String(ctx.state?.registrationOrigin ?? 'management') } });
  provider.on('registration_create.success', success('client.registered'));
  provider.on('registration_update.success', success('client.updated'));
  provider.on('registration_delete.success', success('client.deleted'));
  const failure = (event: 'client.registered' | 'client.updated' | 'client.deleted') => (ctx: KoaContextWithOIDC, error: Error & { error_description?: string }) =>
    auditor.record({ event, outcome: 'failure', reason: error.message, ...base(ctx) });
  provider.on('registration_create.error', failure('client.registered'));
  provider.on('registration_update.error', failure('client.updated'));
  provider.on('registration_delete.error', failure('client.deleted'));
  // A metadata document that could not be fetched or was refused: the reason goes to the audit, the user sees invalid_client.
  provider.on('authorization.error', (ctx: KoaContextWithOIDC, error: Error & { error_description?: string }) => {
    const clientId = String(ctx.oidc?.params?.client_id ?? '');
    if (!clientId.startsWith('https://') || !/client_id metadata document|client is not allowed/.test(`${error.error_description ?? ''} ${error.message}`)) return;
    const cause = (error as { cause?: { message?: string; cause?: { message?: string } } }).cause;
    auditor.record({ event: 'client.metadata_document', outcome: 'failure', clientId: clientId.slice(0, 255), reason: String(cause?.cause?.message ?? cause?.message ?? error.error_description).slice(0, 200), ...base(ctx) });
  });
}
