// A real 3-master Redis Cluster on loopback: the conformance suite and the oidc-provider adapter suite pass against it.
import { spawnSync } from 'node:child_process';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { StoreUnavailableError } from '../../src/store/store.js';
import { startBroker, TEST_USER } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore, redisCli, startRedisServer } from '../helpers/redis.js';
import { loginAndExchange } from '../helpers/rp.js';
import { expectGrantRevoked, freshCode, OFFLINE, refreshParams, tokenRequest } from '../helpers/token-endpoint.js';
import type { RedisServer } from '../helpers/redis.js';
import { runStoreConformance } from './conformance.js';
import { runOidcAdapterSuite } from './oidc-adapter-suite.js';

const nodes: RedisServer[] = [];
const seeds = () => nodes.map((node) => `127.0.0.1:${node.port}`);
const openClusterStore = (): Promise<RedisStore> => openRedisStore({ connection: { cluster: seeds() } });
const dispose = (store: KeyValueStore) => disposeRedisStore(store as RedisStore);

beforeAll(async () => {
  for (let i = 0; i < 3; i += 1) {
    nodes.push(await startRedisServer({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] }));
  }
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...seeds(), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
  for (let i = 0; ; i += 1) {
    if (nodes.every((node) => redisCli(node.port, 'CLUSTER', 'INFO').includes('cluster_state:ok'))) break;
    if (i > 200) throw new Error('cluster never reached cluster_state:ok');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.destroy()));
});

runStoreConformance('redis cluster', openClusterStore, {
  disposeStore: dispose,
  makeSibling: async (store) => {
    const sibling = new RedisStore({ connection: { cluster: seeds() }, prefix: (store as RedisStore).prefix });
    await sibling.ready(10_000);
    return sibling;
  },
});
runOidcAdapterSuite('redis cluster', openClusterStore, dispose);

describe('RedisStore on a cluster', () => {
  it('spreads keys over the three masters', async () => {
    const store = await openClusterStore();
    try {
      await Promise.all(Array.from({ length: 60 }, (_, i) => store.set(`spread:${i}`, i)));
      const counts = nodes.map((node) => Number(redisCli(node.port, 'DBSIZE')));
      expect(counts.filter((count) => count > 0)).toHaveLength(3);
      expect(await store.getMany(Array.from({ length: 60 }, (_, i) => `spread:${i}`))).toEqual(Array.from({ length: 60 }, (_, i) => i));
    } finally {
      await dispose(store);
    }
  });

  it('refuses a batch whose keys do not share one hash tag, before writing anything', async () => {
    const store = await openClusterStore();
    try {
      const attempt = store.batch([
        { op: 'set', key: '{one}:a', value: 1 },
        { op: 'set', key: '{two}:b', value: 2 },
      ]);
      await expect(attempt).rejects.toThrow(/hash tag/);
      await expect(attempt).rejects.not.toBeInstanceOf(StoreUnavailableError);
      expect(await store.getMany(['{one}:a', '{two}:b'])).toEqual([undefined, undefined]);
    } finally {
      await dispose(store);
    }
  });
});

describe('the broker on a cluster', () => {
  it('runs the full login flow: authorization code with PKCE, userinfo, refresh-token rotation and replay refusal', async () => {
    const store = await openClusterStore();
    const broker = await startBroker({ store, config: { store: { type: 'redis' } } });
    try {
      const { config, tokens } = await loginAndExchange(broker.issuer, { params: { scope: 'openid email offline_access', prompt: 'consent' } });
      const sub = tokens.claims()!.sub;
      expect(await oidc.fetchUserInfo(config, tokens.access_token, sub)).toMatchObject({ sub, email: TEST_USER.email });
      const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      const counts = nodes.map((node) => Number(redisCli(node.port, 'DBSIZE')));
      expect(counts.filter((count) => count > 0).length).toBeGreaterThan(1);
    } finally {
      await broker.close();
      await dispose(store);
    }
  });

  it('lets one of 8 parallel redemptions of a code, and at most one of a refresh token, win; the losers revoke the grant', async () => {
    const store = await openClusterStore();
    const broker = await startBroker({ store, config: { store: { type: 'redis' } } });
    try {
      const { params } = await freshCode(broker);
      const codeAnswers = await Promise.all(Array.from({ length: 8 }, () => tokenRequest(broker, params)));
      expect(codeAnswers.filter((a) => a.status === 200)).toHaveLength(1);
      expect(codeAnswers.filter((a) => a.status === 400 && a.body.error === 'invalid_grant')).toHaveLength(7);
      await expectGrantRevoked(broker, codeAnswers.find((a) => a.status === 200)!.body as { access_token: string; refresh_token: string });

      const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
      const refreshAnswers = await Promise.all(Array.from({ length: 8 }, () => tokenRequest(broker, refreshParams(tokens.refresh_token!))));
      const winners = refreshAnswers.filter((a) => a.status === 200);
      expect(winners.length).toBeLessThanOrEqual(1);
      expect(refreshAnswers.filter((a) => a.status === 400 && a.body.error === 'invalid_grant')).toHaveLength(8 - winners.length);
      for (const winner of winners) await expectGrantRevoked(broker, winner.body as { access_token: string; refresh_token: string });
      await expectGrantRevoked(broker, { access_token: tokens.access_token, refresh_token: tokens.refresh_token! });
    } finally {
      await broker.close();
      await dispose(store);
    }
  });
});
