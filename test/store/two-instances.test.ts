// Two broker instances behind one proxy share one Redis: a federated login hops between them and refresh-token rotation holds across both.
import { randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisStore } from '../../src/store/redis.js';
import { Browser } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore, testPrefix } from '../helpers/redis.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

type Instance = 'A' | 'B';

/** The "load balancer": every request goes to the instance the test currently names; each hop is logged. */
class SwitchProxy {
  target: Instance = 'A';
  readonly log: string[] = [];
  readonly ports: Partial<Record<Instance, number>> = {};
  private readonly server: Server = createServer((req, res) => {
    const instance = this.target;
    this.log.push(`${instance} ${req.method} ${(req.url ?? '').split('?')[0]}`);
    const forward = request({ host: '127.0.0.1', port: this.ports[instance], method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(forward);
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  served(instance: Instance, method: string, path: string): boolean {
    return this.log.includes(`${instance} ${method} ${path}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const proxy = new SwitchProxy();
let issuer: string;
let upstream: TestUpstream;
const brokers: Partial<Record<Instance, TestBroker>> = {};
const stores: RedisStore[] = [];

beforeAll(async () => {
  issuer = await proxy.listen();
  upstream = await startTestUpstream({ brokerIssuer: issuer, connectorId: 'acme' });
  // What two replicas share through their configuration: the issuer, cookie keys and vault keys. State is only in Redis.
  const shared = {
    issuer,
    cookieKeys: [randomBytes(32).toString('base64url')],
    vaultKeys: [randomBytes(32).toString('base64url')],
    store: { type: 'redis' },
  };
  const prefix = testPrefix('two');
  for (const instance of ['A', 'B'] as const) {
    const store = await openRedisStore({ prefix });
    stores.push(store);
    const broker = await startBroker({
      store,
      providers: [{ id: 'acme', type: 'oidc', name: 'ACME SSO', domains: ['acme.test'], config: upstream.connectorConfig() }],
      config: shared,
    });
    brokers[instance] = broker;
    proxy.ports[instance] = broker.port;
  }
});

afterAll(async () => {
  await Promise.all(Object.values(brokers).map((broker) => broker.close()));
  await proxy.close();
  await upstream?.close();
  for (const store of stores) await disposeRedisStore(store);
});

describe('two broker instances, one Redis', () => {
  let config: oidc.Configuration;
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  let rotated: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;

  beforeAll(async () => {
    proxy.target = 'A';
    config = await discoverRp(issuer);
    const request = await authorizationRequest(config, TEST_CLIENT, { scope: 'openid email offline_access', prompt: 'consent', idp_hint: 'acme' });
    const browser = new Browser();
    const atUpstream = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    expect(atUpstream.url.startsWith(upstream.issuer)).toBe(true);
    const callback = await browser.submit(atUpstream, '/login', { username: 'alice', password: 'alice-pw' }, `${issuer}/callback/`);

    proxy.target = 'B';
    const finished = await browser.follow(callback.url, {}, TEST_CLIENT.redirectUri);
    const rpCallback = await completeLogin(browser, finished, TEST_CLIENT.redirectUri);
    tokens = await oidc.authorizationCodeGrant(config, rpCallback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
      idTokenExpected: true,
    });

    proxy.target = 'A';
    rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  });

  it('authorization ran on A, the upstream callback and the code exchange on B', () => {
    expect(proxy.served('A', 'GET', '/auth')).toBe(true);
    expect(proxy.served('B', 'GET', '/callback/acme')).toBe(true);
    expect(proxy.served('A', 'GET', '/callback/acme')).toBe(false);
    expect(proxy.served('B', 'POST', '/token')).toBe(true);
    expect(tokens.claims()).toMatchObject({ iss: issuer, aud: TEST_CLIENT.clientId, email: 'alice@acme.test' });
  });

  it('both instances publish the same JWKS and either one verifies the ID token', async () => {
    const jwksA = (await (await fetch(`${brokers.A!.url}/jwks`)).json()) as JSONWebKeySet;
    const jwksB = (await (await fetch(`${brokers.B!.url}/jwks`)).json()) as JSONWebKeySet;
    expect(jwksB).toEqual(jwksA);
    await expect(jwtVerify(tokens.id_token!, createLocalJWKSet(jwksB), { issuer, audience: TEST_CLIENT.clientId })).resolves.toBeTruthy();
  });

  it('the refresh on A rotated the refresh token issued by B', () => {
    expect(proxy.log.filter((line) => line === 'A POST /token')).toHaveLength(1);
    expect(rotated.refresh_token).toBeTruthy();
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    expect(rotated.claims()?.sub).toBe(tokens.claims()?.sub);
  });

  it('B refuses the refresh token that A rotated', async () => {
    proxy.target = 'B';
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('the replay seen by B revoked the whole grant for A too', async () => {
    proxy.target = 'A';
    await expect(oidc.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.fetchUserInfo(config, rotated.access_token, tokens.claims()!.sub)).rejects.toMatchObject({ status: 401 });
  });
});
