// oidc-provider's own pages (errors, logout confirmation, logged out) rendered with the broker's views.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Context } from 'koa';
import type { Renderer } from '../http/views.js';

export function providerPages(renderer: Renderer) {
  return {
    async renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) {
      const status = ctx.status;
      const log = ctx.state?.log as { warn?: (o: object, m: string) => void } | undefined;
      log?.warn?.({ code: out.error, detail: out.error_description, status }, 'oidc error');
      const key = out.error === 'temporarily_unavailable' ? 'store_unavailable' : out.error === 'server_error' ? 'server_error' : 'oidc';
      const message = key === 'oidc' && out.error_description ? `${renderer.errorMessage(ctx as unknown as Context, key)} (${out.error_description})` : renderer.errorMessage(ctx as unknown as Context, key);
      renderer.render(ctx as unknown as Context, 'error', { message, code: out.error, requestId: ctx.state?.requestId }, status);
    },
    async logoutSource(ctx: KoaContextWithOIDC, form: string) {
      renderer.render(ctx as unknown as Context, 'logout', { form });
    },
    async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
      const client = ctx.oidc.client;
      renderer.render(ctx as unknown as Context, 'logged-out', { clientName: client?.clientName ?? client?.clientId });
    },
  };
}
