// Return point after an upstream logout: continue to where the client's logout was going.
import type Router from '@koa/router';
import type { BrokerContext } from '../../context.js';
import { resumeAfterUpstreamLogout } from '../../federation/logout.js';

export function logoutRoutes(router: Router, broker: BrokerContext): void {
  router.get('/logout/callback/:connectorId', async (ctx) => {
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : undefined;
    if (await resumeAfterUpstreamLogout(broker, ctx, String(ctx.params.connectorId), state)) return;
    broker.renderer.render(ctx, 'logged-out', {});
  });
}
