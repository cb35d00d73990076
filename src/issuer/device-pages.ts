// The device flow's pages (RFC 8628 §3.3): code entry, confirmation and result, rendered with the broker's views instead of oidc-provider's defaults.
import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Renderer } from '../http/views.js';

/** The action and xsrf value of the form oidc-provider builds (its own, trusted markup). */
function formParts(form: string): { action: string; xsrf: string } {
  const decode = (value: string) => value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return { action: decode(/action="([^"]*)"/.exec(form)?.[1] ?? ''), xsrf: decode(/name="xsrf" value="([^"]*)"/.exec(form)?.[1] ?? '') };
}

/** Which message a failed code entry shows (a wrong or expired code, an interrupted sign-in, anything else). */
function inputError(error: (Error & { userCode?: string }) | undefined): string | undefined {
  if (!error) return undefined;
  if (error.userCode || error.name === 'NoCodeError' || error.name === 'ExpiredError' || error.name === 'NotFoundError') return 'code';
  if (error.name === 'AbortedError') return 'aborted';
  return 'other';
}

export function deviceFlowPages(renderer: Renderer) {
  return {
    async userCodeInputSource(ctx: KoaContextWithOIDC, form: string, _out: unknown, error?: Error & { userCode?: string }) {
      const reason = inputError(error);
      renderer.render(ctx as unknown as Context, 'device', { step: 'input', ...formParts(form), error: reason, userCode: error?.userCode ?? '' }, reason ? 400 : 200);
    },
    async userCodeConfirmSource(ctx: KoaContextWithOIDC, form: string, client: { clientName?: string; clientId: string }, _deviceInfo: unknown, userCode: string) {
      renderer.render(ctx as unknown as Context, 'device', { step: 'confirm', ...formParts(form), clientName: client.clientName ?? client.clientId, userCode });
    },
    async successSource(ctx: KoaContextWithOIDC) {
      const client = ctx.oidc.client;
      renderer.render(ctx as unknown as Context, 'device', { step: 'done', clientName: client?.clientName ?? client?.clientId });
    },
  };
}
