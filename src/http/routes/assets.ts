// The broker's few static scripts (views/assets), served same-origin so the pages keep a strict CSP with no inline script.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Router from '@koa/router';
import { VIEWS_DIR } from '../views.js';

const SCRIPTS = ['webauthn.js'] as const;

export function assetRoutes(router: Router): void {
  for (const name of SCRIPTS) {
    const body = readFileSync(join(VIEWS_DIR, 'assets', name), 'utf8');
    router.get(`/assets/${name}`, (ctx) => {
      ctx.type = 'application/javascript; charset=utf-8';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = body;
    });
  }
}
