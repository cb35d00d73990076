// The oidc-provider adapter tests, run against every KeyValueStore backend (memory, Redis, Redis Cluster).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { errors } from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';
import als from 'oidc-provider/lib/helpers/als.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOidcAdapter, DEFAULT_OIDC_PREFIX, deferConsumes, PRUNE_EVERY, takeDeferred } from '../../src/store/oidc-adapter.js';
import type { OidcAdapterClass, OidcPayload } from '../../src/store/oidc-adapter.js';
import type { KeyValueStore } from '../../src/store/store.js';

export function runOidcAdapterSuite(
  name: string,
  makeStore: () => Promise<KeyValueStore>,
  disposeStore: (store: KeyValueStore) => Promise<void> = (store) => store.close(),
): void {
  describe(`oidc-provider adapter on ${name}`, () => {
    let store: KeyValueStore;
    let Adapter: OidcAdapterClass;
    const p = DEFAULT_OIDC_PREFIX;

    beforeEach(async () => {
      store = await makeStore();
      Adapter = createOidcAdapter(store);
    });
    afterEach(async () => {
      await disposeStore(store);
    });

    it('stores a payload under <Model>:<id> with expiresIn as TTL and returns a copy', async () => {
      const adapter = new Adapter('Interaction');
      const payload = { jti: 'i1', kind: 'Interaction', params: { scope: 'openid', nested: [1, 2] } };
      await adapter.upsert('i1', payload, 600);
      payload.params.scope = 'changed';
      expect(await adapter.find('i1')).toEqual({ jti: 'i1', kind: 'Interaction', params: { scope: 'openid', nested: [1, 2] } });
      const ttl = await store.ttl(`${p}Interaction:i1`);
      expect(ttl).toBeGreaterThan(590_000);
      expect(ttl).toBeLessThanOrEqual(600_000);
      expect(await adapter.find('missing')).toBeUndefined();
    });

    it('leaves kind and jti out of the stored JSON when they repeat model and id, and find restores them', async () => {
      const tokens = new Adapter('AccessToken');
      await tokens.upsert('tok', { jti: 'tok', kind: 'AccessToken', grantId: 'gc', scope: 'openid' }, 60);
      expect(await store.get(`${p}AccessToken:tok`)).toEqual({ grantId: 'gc', scope: 'openid' });
      expect(await tokens.find('tok')).toEqual({ jti: 'tok', kind: 'AccessToken', grantId: 'gc', scope: 'openid' });
      await tokens.consume('tok');
      expect(await tokens.find('tok')).toEqual({ jti: 'tok', kind: 'AccessToken', grantId: 'gc', scope: 'openid', consumed: expect.any(Number), consumedBy: expect.any(String) });

      await tokens.upsert('odd', { jti: 'other', kind: 'RefreshToken' }, 60);
      expect(await tokens.find('odd')).toEqual({ jti: 'other', kind: 'RefreshToken' });
      const clients = new Adapter('Client');
      await clients.upsert('c9', { client_id: 'c9', redirect_uris: ['https://rp.example/cb'] });
      expect(await clients.find('c9')).toEqual({ client_id: 'c9', redirect_uris: ['https://rp.example/cb'] });
    });

    it('adds clockTolerance to every TTL and keeps entries without expiresIn forever', async () => {
      const tolerant = new (createOidcAdapter(store, { clockToleranceSec: 30 }))('AccessToken');
      await tolerant.upsert('at1', { jti: 'at1', grantId: 'g-tol' }, 60);
      expect(await store.ttl(`${p}AccessToken:at1`)).toBeGreaterThan(80_000);
      const client = new Adapter('Client');
      await client.upsert('c1', { client_id: 'c1' });
      expect(await store.ttl(`${p}Client:c1`)).toBe(Infinity);
    });

    it('finds a Session by uid and drops the index on destroy', async () => {
      const sessions = new Adapter('Session');
      await sessions.upsert('s1', { jti: 's1', uid: 'u1', accountId: 'a1' }, 3600);
      expect(await sessions.findByUid('u1')).toMatchObject({ jti: 's1', accountId: 'a1' });
      expect(await store.get(`${p}sessionUid:u1`)).toBe('s1');
      await sessions.destroy('s1');
      expect(await sessions.find('s1')).toBeUndefined();
      expect(await sessions.findByUid('u1')).toBeUndefined();
      expect(await store.get(`${p}sessionUid:u1`)).toBeUndefined();
    });

    it('keeps the uid index of a regenerated session when the old id is destroyed afterwards', async () => {
      const sessions = new Adapter('Session');
      await sessions.upsert('old', { jti: 'old', uid: 'u2' }, 3600);
      await sessions.upsert('new', { jti: 'new', uid: 'u2' }, 3600);
      await sessions.destroy('old');
      expect(await sessions.findByUid('u2')).toMatchObject({ jti: 'new' });
    });

    it('finds a DeviceCode by userCode and replaces the index when the userCode changes', async () => {
      const codes = new Adapter('DeviceCode');
      await codes.upsert('d1', { jti: 'd1', userCode: 'ABCD-EFGH', grantId: 'gd' }, 600);
      expect(await codes.findByUserCode('ABCD-EFGH')).toMatchObject({ jti: 'd1' });
      await codes.upsert('d1', { jti: 'd1', userCode: 'WXYZ-WXYZ', grantId: 'gd' }, 600);
      expect(await codes.findByUserCode('ABCD-EFGH')).toBeUndefined();
      expect(await codes.findByUserCode('WXYZ-WXYZ')).toMatchObject({ jti: 'd1' });
      await codes.destroy('d1');
      expect(await codes.findByUserCode('WXYZ-WXYZ')).toBeUndefined();
      expect(await store.get(`${p}userCode:WXYZ-WXYZ`)).toBeUndefined();
    });

    it('consume sets consumed to the current epoch second and keeps the TTL', async () => {
      const codes = new Adapter('AuthorizationCode');
      await codes.upsert('ac1', { jti: 'ac1', grantId: 'g1', accountId: 'a' }, 60);
      const before = Math.floor(Date.now() / 1000);
      await codes.consume('ac1');
      const found = await codes.find('ac1');
      expect(found?.consumed).toBeGreaterThanOrEqual(before);
      expect(found?.consumed).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      expect(found).toMatchObject({ jti: 'ac1', grantId: 'g1', accountId: 'a' });
      const ttl = await store.ttl(`${p}AuthorizationCode:ac1`);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    });

    it('consume does not resurrect a destroyed, revoked or expired entry', async () => {
      const codes = new Adapter('AuthorizationCode');
      await codes.upsert('gone', { jti: 'gone', grantId: 'g2' }, 60);
      await codes.destroy('gone');
      await codes.consume('gone');
      expect(await codes.find('gone')).toBeUndefined();

      await codes.upsert('revoked', { jti: 'revoked', grantId: 'g2' }, 60);
      await codes.revokeByGrantId('g2');
      await codes.consume('revoked');
      expect(await codes.find('revoked')).toBeUndefined();

      await codes.upsert('short', { jti: 'short', grantId: 'g3' }, 0.05);
      await new Promise((resolve) => setTimeout(resolve, 150));
      await codes.consume('short');
      expect(await codes.find('short')).toBeUndefined();
      expect(await store.ttl(`${p}AuthorizationCode:short`)).toBeUndefined();
    });

    /** A grant with a code, an access and a refresh token, its Grant record, and a token of another grant. */
    async function grantWithTokens(grantId: string) {
      const models = { code: new Adapter('AuthorizationCode'), at: new Adapter('AccessToken'), rt: new Adapter('RefreshToken'), grant: new Adapter('Grant') };
      await models.code.upsert(`${grantId}-code`, { jti: `${grantId}-code`, grantId }, 60);
      await models.at.upsert(`${grantId}-at`, { jti: `${grantId}-at`, grantId }, 600);
      await models.rt.upsert(`${grantId}-rt`, { jti: `${grantId}-rt`, grantId }, 86_400);
      await models.grant.upsert(grantId, { jti: grantId, accountId: 'a', clientId: 'c' }, 86_400);
      await models.at.upsert(`other-of-${grantId}`, { jti: `other-of-${grantId}`, grantId: `other-${grantId}` }, 600);
      const revoked = async () =>
        (await models.code.find(`${grantId}-code`)) === undefined &&
        (await models.at.find(`${grantId}-at`)) === undefined &&
        (await models.rt.find(`${grantId}-rt`)) === undefined &&
        (await models.grant.find(grantId)) === undefined &&
        (await models.at.find(`other-of-${grantId}`)) !== undefined;
      return { ...models, revoked };
    }

    it('a second consume of one entry is reuse: it rejects with InvalidGrant and revokes the grant, Grant record included', async () => {
      const g = await grantWithTokens('reuse');
      await g.code.consume('reuse-code');
      expect(await g.revoked()).toBe(false);
      const second = g.code.consume('reuse-code');
      await expect(second).rejects.toBeInstanceOf(errors.InvalidGrant);
      await expect(second).rejects.toMatchObject({ error: 'invalid_grant', statusCode: 400 });
      expect(await g.revoked()).toBe(true);
    });

    it('of many concurrent consumes of one entry exactly one wins; the others are reuse and revoke the grant', async () => {
      const g = await grantWithTokens('race');
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => g.rt.consume('race-rt')));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const outcome of outcomes.filter((o) => o.status === 'rejected')) expect(outcome.reason).toBeInstanceOf(errors.InvalidGrant);
      expect(await g.revoked()).toBe(true);
    });

    it('a device code is single use like a code (its user-code index goes with the grant); a pushed request answers invalid_request_uri', async () => {
      const devices = new Adapter('DeviceCode');
      await devices.upsert('dev', { jti: 'dev', grantId: 'dg', userCode: 'DEV-CODE' }, 600);
      const outcomes = await Promise.allSettled([devices.consume('dev'), devices.consume('dev'), devices.consume('dev')]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof errors.InvalidGrant)).toHaveLength(2);
      expect(await devices.find('dev')).toBeUndefined();
      expect(await devices.findByUserCode('DEV-CODE')).toBeUndefined();

      const pushed = new Adapter('PushedAuthorizationRequest');
      await pushed.upsert('par', { jti: 'par', request: 'eyJ...' }, 60);
      await pushed.consume('par');
      await expect(pushed.consume('par')).rejects.toBeInstanceOf(errors.InvalidRequestUri);
      expect((await pushed.find('par'))?.consumed).toEqual(expect.any(Number));
    });

    it('inside a request registered with deferConsumes, consume only records the claim; settling makes it atomically', async () => {
      const g = await grantWithTokens('deferred');
      const first = {};
      const second = {};
      deferConsumes(first);
      deferConsumes(second);
      // Both requests pass oidc-provider's `consumed` check and consume; nothing is written yet.
      await als.run(first, () => g.rt.consume('deferred-rt'));
      await als.run(second, () => g.rt.consume('deferred-rt'));
      expect((await g.rt.find('deferred-rt'))?.consumed).toBeUndefined();
      const [mine] = takeDeferred(first).consumes;
      expect(mine).toMatchObject({ model: 'RefreshToken', id: 'deferred-rt' });
      expect(takeDeferred(first).consumes).toEqual([]);
      await mine!.settle('deferred');
      expect((await g.rt.find('deferred-rt'))?.consumed).toEqual(expect.any(Number));
      const [theirs] = takeDeferred(second).consumes;
      await expect(theirs!.settle('deferred')).rejects.toBeInstanceOf(errors.InvalidGrant);
      expect(await g.revoked()).toBe(true);

      // A request that is not registered (or no longer) consumes at once.
      const plain = {};
      const h = await grantWithTokens('immediate');
      await als.run(plain, () => h.code.consume('immediate-code'));
      expect((await h.code.find('immediate-code'))?.consumed).toEqual(expect.any(Number));
      await als.run(first, () => h.rt.consume('immediate-rt'));
      expect((await h.rt.find('immediate-rt'))?.consumed).toEqual(expect.any(Number));
    });

    it('inside a request deferring saves, access and refresh tokens are held (readable by the request) and written in one batch', async () => {
      const g = await grantWithTokens('held');
      const request = {};
      deferConsumes(request, { saves: true });
      await als.run(request, async () => {
        await g.rt.upsert('held-rt2', { jti: 'held-rt2', grantId: 'held' }, 86_400);
        await g.at.upsert('held-at2', { jti: 'held-at2', grantId: 'held' }, 600);
        // Held, not written: the request reads its own tokens back, nobody else sees them yet.
        expect(await g.rt.find('held-rt2')).toMatchObject({ jti: 'held-rt2', grantId: 'held' });
      });
      expect(await g.rt.find('held-rt2')).toBeUndefined();
      expect(await g.at.find('held-at2')).toBeUndefined();
      const { saves: ops, consumes } = takeDeferred(request);
      expect(consumes).toEqual([]);
      expect(takeDeferred(request)).toEqual({ saves: [], consumes: [] });
      await store.batch(ops);
      expect(await g.rt.find('held-rt2')).toMatchObject({ jti: 'held-rt2', grantId: 'held' });
      expect(await g.at.find('held-at2')).toMatchObject({ jti: 'held-at2', grantId: 'held' });
      // Written with their grant index entries: revoking the grant takes them.
      await g.at.revokeByGrantId('held');
      expect(await g.rt.find('held-rt2')).toBeUndefined();
      expect(await g.at.find('held-at2')).toBeUndefined();
      // A request deferring consumes only writes its tokens at once.
      const plain = {};
      deferConsumes(plain);
      await als.run(plain, () => g.at.upsert('plain-at', { jti: 'plain-at', grantId: 'other' }, 600));
      expect(await g.at.find('plain-at')).toMatchObject({ jti: 'plain-at' });
      expect(takeDeferred(plain)).toEqual({ saves: [], consumes: [] });
    });

    it('a deferred claim of an entry revoked meanwhile loses and revokes the grant again, taking tokens saved after the revocation', async () => {
      const g = await grantWithTokens('gone');
      const request = {};
      deferConsumes(request);
      await als.run(request, () => g.rt.consume('gone-rt'));
      await g.at.revokeByGrantId('gone');
      // The request goes on and saves its new tokens into the grant that was just revoked.
      await g.rt.upsert('gone-rt2', { jti: 'gone-rt2', grantId: 'gone' }, 86_400);
      await g.at.upsert('gone-at2', { jti: 'gone-at2', grantId: 'gone' }, 600);
      const [claim] = takeDeferred(request).consumes;
      await expect(claim!.settle('gone')).rejects.toBeInstanceOf(errors.InvalidGrant);
      expect(await g.rt.find('gone-rt2')).toBeUndefined();
      expect(await g.at.find('gone-at2')).toBeUndefined();
      expect(await g.revoked()).toBe(true);
    });

    it('revokeByGrantId removes every member of the grant and their secondary indexes, and no other grant', async () => {
      const at = new Adapter('AccessToken');
      const rt = new Adapter('RefreshToken');
      const dc = new Adapter('DeviceCode');
      await at.upsert('at1', { jti: 'at1', grantId: 'G' }, 600);
      await rt.upsert('rt1', { jti: 'rt1', grantId: 'G' }, 86_400);
      await dc.upsert('dc1', { jti: 'dc1', grantId: 'G', userCode: 'UC-1' }, 600);
      await at.upsert('at-other', { jti: 'at-other', grantId: 'H' }, 600);
      expect(Object.keys(await store.mapGetAll(`${p}grant:G`)).sort()).toEqual(['AccessToken:at1', 'DeviceCode:dc1', 'RefreshToken:rt1']);

      await at.revokeByGrantId('G');
      expect(await at.find('at1')).toBeUndefined();
      expect(await rt.find('rt1')).toBeUndefined();
      expect(await dc.find('dc1')).toBeUndefined();
      expect(await dc.findByUserCode('UC-1')).toBeUndefined();
      expect(await store.mapGetAll(`${p}grant:G`)).toEqual({});
      expect(await at.find('at-other')).toMatchObject({ jti: 'at-other' });
      await at.revokeByGrantId('never-existed');
    });

    it('the grant index lives as long as its longest member and never shortens', async () => {
      const at = new Adapter('AccessToken');
      const rt = new Adapter('RefreshToken');
      await rt.upsert('rt-long', { jti: 'rt-long', grantId: 'T' }, 86_400);
      await at.upsert('at-short', { jti: 'at-short', grantId: 'T' }, 60);
      const ttl = await store.ttl(`${p}grant:T`);
      expect(ttl).toBeGreaterThan(86_000_000);
      const members = await store.mapGetAll<number>(`${p}grant:T`);
      expect(members['RefreshToken:rt-long']).toBeGreaterThan(Date.now() + 86_000_000);
      expect(members['AccessToken:at-short']).toBeLessThanOrEqual(Date.now() + 60_000);
    });

    it('destroying a member removes it from the grant index; a token moved to another grant is not revoked with the old one', async () => {
      const at = new Adapter('AccessToken');
      await at.upsert('a', { jti: 'a', grantId: 'X' }, 600);
      await at.upsert('b', { jti: 'b', grantId: 'X' }, 600);
      await at.destroy('a');
      expect(Object.keys(await store.mapGetAll(`${p}grant:X`))).toEqual(['AccessToken:b']);
      await at.upsert('b', { jti: 'b', grantId: 'Y' }, 600);
      await at.revokeByGrantId('X');
      expect(await store.mapGetAll(`${p}grant:X`)).toEqual({});
      expect(await at.find('b')).toMatchObject({ grantId: 'Y' });
      await at.revokeByGrantId('Y');
      expect(await at.find('b')).toBeUndefined();
    });

    it(`prunes expired members from the grant index within ${PRUNE_EVERY} saves`, async () => {
      const at = new Adapter('AccessToken');
      await at.upsert('expiring', { jti: 'expiring', grantId: 'P' }, 0.05);
      await at.upsert('lasting', { jti: 'lasting', grantId: 'P' }, 600);
      await new Promise((resolve) => setTimeout(resolve, 150));
      for (let i = 0; i < PRUNE_EVERY; i++) await at.upsert(`later${i}`, { jti: `later${i}`, grantId: 'P' }, 600);
      const members = Object.keys(await store.mapGetAll(`${p}grant:P`));
      expect(members).not.toContain('AccessToken:expiring');
      expect(members).toContain('AccessToken:lasting');
      expect(members).toHaveLength(PRUNE_EVERY + 1);
    });

    it('does not index grantIds of models that are not grantable', async () => {
      const grants = new Adapter('Grant');
      await grants.upsert('gr1', { jti: 'gr1', grantId: 'N' } as OidcPayload, 600);
      expect(await store.mapGetAll(`${p}grant:N`)).toEqual({});
      await grants.revokeByGrantId('N');
      expect(await grants.find('gr1')).toMatchObject({ jti: 'gr1' });
    });

    it('behaves like oidc-provider memory adapter over a random sequence of operations', async () => {
      const reference = createMemoryAdapter();
      const models = ['Session', 'AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode', 'Interaction', 'Grant'];
      const ids = ['i0', 'i1', 'i2', 'i3'];
      const grantIds = ['g0', 'g1', 'g2'];
      const uids = ['u0', 'u1', 'u2'];
      const userCodes = ['c0', 'c1'];
      let seed = 12345;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      const pick = <T>(list: readonly T[]): T => list[rand(list.length)] as T;
      const ours = new Map(models.map((model) => [model, new Adapter(model)]));
      const theirs = new Map(models.map((model) => [model, reference(model)]));
      const normalise = (value: unknown) => {
        if (!value || typeof value !== 'object') return value;
        const { consumed, ...rest } = value as OidcPayload;
        return { ...rest, consumed: consumed === undefined ? 'no' : 'yes' };
      };

      for (let step = 0; step < 300; step += 1) {
        const model = pick(models);
        const id = pick(ids);
        const mine = ours.get(model)!;
        const ref = theirs.get(model)!;
        switch (rand(4)) {
          case 0:
          case 1: {
            const payload: OidcPayload = { jti: id, kind: model, step };
            if (model === 'Session') payload.uid = pick(uids);
            if (model !== 'Session' && model !== 'Interaction' && rand(4) > 0) payload.grantId = pick(grantIds);
            if (model === 'DeviceCode') payload.userCode = pick(userCodes);
            await ref.upsert(id, { ...payload }, 3600);
            await mine.upsert(id, { ...payload }, 3600);
            break;
          }
          case 2: {
            const found = await ref.find(id);
            if (found && found.consumed === undefined) {
              await ref.consume(id);
              await mine.consume(id);
            } else if (found) {
              // A second consume is reuse: ours revokes the grant (tokens and Grant record), as oidc-provider would.
              await expect(mine.consume(id)).rejects.toBeInstanceOf(errors.InvalidGrant);
              if (found.grantId) {
                await ref.revokeByGrantId(found.grantId as string);
                await theirs.get('Grant')!.destroy(found.grantId as string);
              }
            } else {
              await ref.destroy(id);
              await mine.destroy(id);
            }
            break;
          }
          default: {
            const grantId = pick(grantIds);
            await ref.revokeByGrantId(grantId);
            await mine.revokeByGrantId(grantId);
          }
        }
        for (const [m, adapter] of ours) {
          for (const each of ids) {
            expect(normalise(await adapter.find(each)), `step ${step} ${m}:${each}`).toEqual(normalise(await theirs.get(m)!.find(each)));
          }
        }
        for (const uid of uids) {
          expect(normalise(await ours.get('Session')!.findByUid(uid))).toEqual(normalise(await theirs.get('Session')!.findByUid(uid)));
        }
        for (const code of userCodes) {
          expect(normalise(await ours.get('DeviceCode')!.findByUserCode(code))).toEqual(
            normalise(await theirs.get('DeviceCode')!.findByUserCode(code)),
          );
        }
      }
    });

    it('serves a real oidc-provider: tokens, sessions, grant revocation and refresh-token consumption', async () => {
      const provider = new Provider('http://127.0.0.1/', {
        adapter: Adapter,
        clients: [
          { client_id: 'svc', client_secret: 'a-secret-that-is-long-enough-0123456789', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
          { client_id: 'web', client_secret: 'another-secret-long-enough-0123456789', redirect_uris: ['https://rp.example/cb'] },
        ],
        features: { clientCredentials: { enabled: true }, introspection: { enabled: true }, revocation: { enabled: true } },
      });
      const server = createServer(provider.callback());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const auth = `Basic ${Buffer.from('svc:a-secret-that-is-long-enough-0123456789').toString('base64')}`;
      const post = (path: string, body: Record<string, string>) =>
        fetch(base + path, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
      try {
        const tokenResponse = await post('/token', { grant_type: 'client_credentials' });
        expect(tokenResponse.status).toBe(200);
        const { access_token: accessToken } = (await tokenResponse.json()) as { access_token: string };
        expect(await store.get(`${p}ClientCredentials:${accessToken}`)).toMatchObject({ clientId: 'svc' });
        expect(await (await post('/token/introspection', { token: accessToken })).json()).toMatchObject({ active: true, client_id: 'svc' });
        expect((await post('/token/revocation', { token: accessToken })).status).toBe(200);
        expect(await (await post('/token/introspection', { token: accessToken })).json()).toEqual({ active: false });
        expect(await store.get(`${p}ClientCredentials:${accessToken}`)).toBeUndefined();

        const client = await provider.Client.find('web');
        const session = new provider.Session();
        session.accountId = 'acct';
        await session.save(3600);
        expect(await store.get(`${p}sessionUid:${session.uid}`)).toBe(session.jti);
        expect((await provider.Session.findByUid(session.uid))?.accountId).toBe('acct');

        const grant = new provider.Grant({ accountId: 'acct', clientId: 'web' });
        grant.addOIDCScope('openid offline_access');
        const grantId = await grant.save();
        const refresh = new provider.RefreshToken({ accountId: 'acct', client, grantId, scope: 'openid offline_access', gty: 'authorization_code' } as never);
        const refreshValue = await refresh.save();
        const access = new provider.AccessToken({ accountId: 'acct', client, grantId, scope: 'openid', gty: 'authorization_code' } as never);
        const accessValue = await access.save();

        const found = await provider.RefreshToken.find(refreshValue);
        expect(found?.consumed).toBeUndefined();
        await found!.consume();
        expect((await provider.RefreshToken.find(refreshValue))?.consumed).toEqual(expect.any(Number));

        await provider.AccessToken.revokeByGrantId(grantId);
        expect(await provider.AccessToken.find(accessValue)).toBeUndefined();
        expect(await provider.RefreshToken.find(refreshValue)).toBeUndefined();
        expect((await provider.Grant.find(grantId))?.accountId).toBe('acct');
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });
}
