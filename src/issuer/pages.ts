// oidc-provider's own pages (errors, logout confirmation, logged out) rendered with the broker's views, each with its way back to the application.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Context } from 'koa';
import { backToApplication, type Renderer } from '../http/views.js';

type OidcClient = NonNullable<KoaContextWithOIDC['oidc']['client']>;

function backTo(ctx: KoaContextWithOIDC, client: OidcClient | undefined) {
  if (!client) return undefined;
  return backToApplication(client.clientName ?? client.clientId, client.redirectUris?.[0], new URL(ctx.oidc.provider.issuer).origin);
}

/** The action and xsrf value of the form oidc-provider builds for the logout confirmation (its own, trusted markup). */
function logoutFormParts(form: string): { action: string; xsrf: string } {
  const action = /action="([^"]*)"/.exec(form)?.[1] ?? '';
  const xsrf = /name="xsrf" value="([^"]*)"/.exec(form)?.[1] ?? '';
  const decode = (value: string) => value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return { action: decode(action), xsrf: decode(xsrf) };
}

export function providerPages(renderer: Renderer) {
  return {
    async renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) {
      const status = ctx.status;
      const log = ctx.state?.log as { warn?: (o: object, m: string) => void } | undefined;
      log?.warn?.({ code: out.error, detail: out.error_description, status }, 'oidc error');
      const key = out.error === 'temporarily_unavailable' ? 'store_unavailable' : out.error === 'server_error' ? 'server_error' : 'oidc';
      const message = key === 'oidc' && out.error_description ? `${renderer.errorMessage(ctx as unknown as Context, key)} (${out.error_description})` : renderer.errorMessage(ctx as unknown as Context, key);
      // The registered URI, never the requested one: an error about a redirect_uri must not link to it.
      const back = backTo(ctx, ctx.oidc?.client);
      renderer.render(ctx as unknown as Context, 'error', { message, code: out.error, requestId: ctx.state?.requestId, backTo: back }, status);
    },
    async logoutSource(ctx: KoaContextWithOIDC, form: string) {
      renderer.render(ctx as unknown as Context, 'logout', logoutFormParts(form));
    },
    async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
      const client = ctx.oidc.client;
      renderer.render(ctx as unknown as Context, 'logged-out', { backTo: backTo(ctx, client) });
    },
  };
}
