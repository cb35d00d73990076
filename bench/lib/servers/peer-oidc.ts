// The login peer: a bare oidc-provider with the broker's settings (clients, keys, algs, TTLs, scopes, claims) on its memory adapter,
// and a minimal interaction handler that logs in the same users (argon2id verify with the same hash, or a plain compare).
import type { RequestListener } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Router from '@koa/router';
import argon2 from 'argon2';
import type { Context } from 'koa';
import Provider, { type Configuration } from 'oidc-provider';
import { clientSchema, tokensSchema } from '../../../src/config/schema.js';
import { accountIdFor } from '../../../src/connectors/claims.js';
import { clientMetadata } from '../../../src/issuer/clients.js';
import { ACR_PASSWORD, createLoadExistingGrant, protocolSettings } from '../../../src/issuer/provider.js';
import { BENCH_CLIENT_CONFIG, BENCH_USER, benchUser, COOKIE_KEYS, USER_COUNT } from '../settings.js';
import type { ServerSpec } from '../spec.js';

/** username -> account id, and account id -> claims, for the same users the broker's local connector has. */
const ACCOUNT_IDS = new Map<string, string>();
const CLAIMS = new Map<string, { sub: string; [claim: string]: unknown }>();
for (let i = 0; i < USER_COUNT; i++) {
  const user = benchUser(i);
  const sub = accountIdFor('local', user.username);
  ACCOUNT_IDS.set(user.username, sub);
  CLAIMS.set(sub, { sub, groups: user.groups, email: user.email, email_verified: true, name: user.name, preferred_username: user.email });
}

async function readForm(ctx: Context): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const page = (title: string, form: string) => `<!doctype html><html><head><title>${title}</title></head><body>${form}</body></html>`;

export function peerOidcServer(spec: Extract<ServerSpec, { kind: 'peer-oidc' }>, issuer: string): { handler: RequestListener; close(): Promise<void> } {
  const client = clientSchema.parse(BENCH_CLIENT_CONFIG);
  const tokens = tokensSchema.parse({});
  const { keys } = JSON.parse(readFileSync(spec.jwksFile, 'utf8')) as { keys: unknown[] };
  const configuration: Configuration = {
    // The issuer's own protocol settings, so the peer differs only by what makes the broker a broker.
    ...protocolSettings(tokens, COOKIE_KEYS),
    clients: [clientMetadata(client)] as unknown as Configuration['clients'],
    jwks: { keys } as Configuration['jwks'],
    findAccount: async (_ctx, accountId) => {
      const claims = CLAIMS.get(accountId);
      return claims ? { accountId, claims: async () => claims } : undefined;
    },
    loadExistingGrant: createLoadExistingGrant(new Set([client.clientId])),
  };
  const provider = new Provider(issuer, configuration);
  const expected = Buffer.from(BENCH_USER.password);
  const passwordOk = async (password: string) =>
    spec.passwordHash ? argon2.verify(spec.passwordHash, password) : Buffer.byteLength(password) === expected.length && timingSafeEqual(Buffer.from(password), expected);

  const router = new Router();
  router.get('/interaction/:uid', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    ctx.type = 'html';
    ctx.body =
      details.prompt.name === 'consent'
        ? page('Consent', `<form method="post" action="/interaction/${details.uid}/consent"><input type="hidden" name="decision" value="allow"><button>Allow</button></form>`)
        : page('Sign in', `<form method="post" action="/interaction/${details.uid}/login"><input name="username" value=""><input type="password" name="password" value=""><button>Sign in</button></form>`);
  });
  router.post('/interaction/:uid/login', async (ctx) => {
    const form = await readForm(ctx);
    await provider.interactionDetails(ctx.req, ctx.res);
    const accountId = ACCOUNT_IDS.get(form.get('username') ?? '');
    if (!accountId || !(await passwordOk(form.get('password') ?? ''))) {
      ctx.status = 401;
      ctx.body = 'invalid credentials';
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId, acr: ACR_PASSWORD, amr: ['pwd'], ts: Math.floor(Date.now() / 1000) } }, { mergeWithLastSubmission: false });
  });
  router.post('/interaction/:uid/consent', async (ctx) => {
    await readForm(ctx);
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const accountId = details.session!.accountId;
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    const prompt = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
    if (prompt.missingOIDCScope) grant!.addOIDCScope(prompt.missingOIDCScope.join(' '));
    if (prompt.missingOIDCClaims) grant!.addOIDCClaims(prompt.missingOIDCClaims);
    const grantId = await grant!.save();
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  });
  provider.use(router.routes());
  return { handler: provider.callback(), close: async () => {} };
}
