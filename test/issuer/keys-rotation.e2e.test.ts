// Key rotation under a sign-in load on two instances sharing Redis: no sign-in fails, and relying parties holding an older JWKS validate every token.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig, type BrokerConfig } from '../../src/config/load.js';
import type { KeyWatch } from '../../src/issuer/key-watch.js';
import { signingKeyStore } from '../../src/issuer/keys.js';
import { reloadOnKeyChange } from '../../src/key-reload.js';
import type { Running } from '../../src/reload.js';
import type { RedisStore } from '../../src/store/redis.js';
import { localProvider, ROOMY_RATE_LIMITS, TEST_CLIENT } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore, testPrefix } from '../helpers/redis.js';
import { loginAndExchange } from '../helpers/rp.js';

const logger = pino({ level: 'silent' });

interface Instance {
  name: string;
  store: RedisStore;
  box: { running: Running };
  watch: KeyWatch;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

async function startInstance(name: string, config: BrokerConfig, prefix: string): Promise<Instance> {
  const store = await openRedisStore({ prefix });
  const box = { running: { config, broker: await buildApp(config, { logger, store, sweep: false }) } };
  const callbacks = new WeakMap<object, (req: IncomingMessage, res: ServerResponse) => void>();
  const handlerOf = (running: Running) => {
    if (!callbacks.has(running)) callbacks.set(running, running.broker.app.callback());
    return callbacks.get(running)!;
  };
  const watch = await reloadOnKeyChange({ store, logger, appDeps: { sweep: false }, current: () => box.running, swap: (next) => void (box.running = next) });
  return { name, store, box, watch, handle: (req, res) => handlerOf(box.running)(req, res) };
}

/** Waits (without a deadline of its own: the test timeout bounds it) until `check` holds. */
async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('signing-key rotation during a sign-in load, two instances on one Redis', () => {
  let server: Server;
  let issuer: string;
  let instances: Instance[] = [];
  let config: BrokerConfig;
  let turn = 0;

  beforeAll(async () => {
    // A load balancer: round-robin over the instances, or the one named by x-instance.
    server = createServer((req, res) => {
      const named = instances.find((instance) => instance.name === req.headers['x-instance']);
      (named ?? (instances[turn++ % instances.length] as Instance)).handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    config = await loadConfig({
      env: {},
      cwd: process.cwd(),
      file: {
        issuer,
        providersDir: 'test/fixtures/no-providers',
        auditLog: 'off',
        logLevel: 'silent',
        cookieKeys: [randomBytes(32).toString('base64url')],
        vaultKeys: [randomBytes(32).toString('base64url')],
        tokens: { idTokenTtl: 4, accessTokenTtl: 4 },
        keys: { publishBeforeUseSeconds: 3, clockSkewSeconds: 1 },
        clients: [{ clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], name: 'Test RP' }],
        providers: [await localProvider()],
        // The sign-in load all comes from 127.0.0.1: budgets above it, as in every test broker.
        rateLimits: ROOMY_RATE_LIMITS,
      },
    });
    const prefix = testPrefix('rotation');
    instances = await Promise.all([startInstance('a', config, prefix), startInstance('b', config, prefix)]);
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    for (const instance of instances) {
      await instance.watch.stop();
      await instance.box.running.broker.close();
      await disposeRedisStore(instance.store);
    }
  });

  const jwksOf = async (name: string) => (await (await fetch(`${issuer}/jwks`, { headers: { 'x-instance': name } })).json()) as JSONWebKeySet;
  const kidsOf = async (name: string) => (await jwksOf(name)).keys.map((key) => key.kid as string);

  it('no sign-in fails; the JWKS held before the rotation and the one held after its publication validate every token received meanwhile', async () => {
    const keyStore = signingKeyStore(config, instances[0]!.store);
    // Both instances serve the same keys from the start (created once).
    await until(async () => (await kidsOf('a')).join() === (await kidsOf('b')).join());
    const before = await jwksOf('a');
    const oldKids = before.keys.map((key) => key.kid as string);
    expect(oldKids).toHaveLength(2);

    type Received = { idToken: string; kid: string; rpJwks: 'before' | 'published' };
    const received: Received[] = [];
    const failures: unknown[] = [];
    let held: 'before' | 'published' = 'before';
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const { tokens } = await loginAndExchange(issuer);
          // The relying party checks the ID token when it arrives, with the JWKS it holds then (a sign-in can outlast
          // publishBeforeUseSeconds on a busy machine: what it held when it started is not what it checks with).
          const rpJwks = held;
          received.push({ idToken: tokens.id_token!, kid: decodeProtectedHeader(tokens.id_token!).kid as string, rpJwks });
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const load = Promise.all([worker(), worker(), worker()]);

    await until(() => received.length >= 3);
    const rotation = await keyStore.rotate();
    expect(rotation.rotated).toBe(true);
    const newKids = rotation.rotated ? rotation.added.map((key) => key.kid) : [];

    // Published by both instances before it signs: the relying party refreshes its cache now, and keeps that copy.
    await until(async () => (await kidsOf('a')).length === 4 && (await kidsOf('b')).length === 4);
    const published = await jwksOf('a');
    expect((await kidsOf('b')).sort()).toEqual(published.keys.map((key) => key.kid).sort());
    expect(published.keys.map((key) => key.kid).sort()).toEqual([...oldKids, ...newKids].sort());
    held = 'published';

    // Activation: both instances put the new keys first (they sign); tokens with the new kid arrive.
    await until(async () => newKids.includes((await kidsOf('a'))[0]!) && newKids.includes((await kidsOf('b'))[0]!));
    const signedNew = () => received.filter((token) => newKids.includes(token.kid)).length;
    const atActivation = signedNew();
    await until(() => signedNew() >= atActivation + 4);
    // The old keys stay published (retired) until their tokens have expired, then leave both JWKS.
    expect((await kidsOf('a')).slice(2).sort()).toEqual([...oldKids].sort());
    await until(async () => (await kidsOf('a')).length === 2 && (await kidsOf('b')).length === 2);
    expect((await kidsOf('a')).sort()).toEqual([...newKids].sort());
    expect((await kidsOf('b')).sort()).toEqual([...newKids].sort());
    stop = true;
    await load;

    expect(failures).toEqual([]);
    expect(received.some((token) => oldKids.includes(token.kid))).toBe(true);
    expect(received.some((token) => newKids.includes(token.kid))).toBe(true);
    const sets = { before: createLocalJWKSet(before), published: createLocalJWKSet(published) };
    const invalid: string[] = [];
    for (const token of received) {
      // Checked against the copy the relying party held when it asked for the token (signature, issuer, audience; not the clock).
      await jwtVerify(token.idToken, sets[token.rpJwks], { issuer, audience: TEST_CLIENT.clientId, currentDate: new Date(decodeJwtIat(token.idToken) * 1000) }).catch((error: Error) =>
        invalid.push(`${token.kid} (${token.rpJwks}): ${error.message}`),
      );
    }
    expect(invalid).toEqual([]);
    // And the copy taken after publication validates every token of the run, old keys' and new keys' alike.
    for (const token of received) await expect(jwtVerify(token.idToken, sets.published, { issuer, audience: TEST_CLIENT.clientId, currentDate: new Date(decodeJwtIat(token.idToken) * 1000) })).resolves.toBeDefined();
  });
});

function decodeJwtIat(jwt: string): number {
  return (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number }).iat;
}
