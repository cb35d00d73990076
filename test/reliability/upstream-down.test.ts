// An OIDC upstream stopped, then hanging, then back, behind a real broker process: the friendly page, the circuit (counted connections, one probe), other upstreams unaffected, sessions kept.
import { createServer, type Server, type Socket } from 'node:net';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, forms, type Page } from '../helpers/browser.js';
import { localProvider, TEST_CLIENT } from '../helpers/broker.js';
import { flushPrefix, openRedisStore, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';
import { auditRecordsOf, brokerProcess, killAllBrokerProcesses, writeSharedConfig, type BrokerProcess } from './broker-process.js';

const prefix = testPrefix('updown');
const FAILURE_THRESHOLD = 3;
const COOLDOWN_SECONDS = 3;
const TIMEOUT_MS = 500;

/**
 * A TCP server on the upstream's port that accepts connections and never answers (the upstream hangs); it counts the
 * requests that reach it (a connection that sent bytes: the HTTP client may open a spare connection it never uses).
 */
async function startHang(port: number): Promise<{ requests: () => number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('data', () => count++);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  return {
    requests: () => count,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let broker: BrokerProcess;
let issuer: string;
let acme: TestUpstream;
let acmePort: number;
let other: TestUpstream;
let rp: oidc.Configuration;

/** Starts a sign-in at the broker (idp_hint picks the upstream), following redirects until the broker or an upstream answers. */
async function startSignIn(browser: Browser, idpHint?: string): Promise<{ page: Page; request: Awaited<ReturnType<typeof authorizationRequest>> }> {
  const request = await authorizationRequest(rp, TEST_CLIENT, { scope: 'openid email offline_access', prompt: 'consent', ...(idpHint ? { idp_hint: idpHint } : {}) });
  // Redirects within the broker are followed; a redirect elsewhere (the upstream) is returned with its target as url.
  let page = await browser.request(request.url.href);
  for (let hop = 0; hop < 10; hop++) {
    const location = page.headers.get('location');
    if (page.status < 300 || page.status >= 400 || !location) break;
    const next = new URL(location, page.url);
    if (next.origin !== issuer) return { page: { ...page, url: next.href }, request };
    page = await browser.request(next.href);
  }
  return { page, request };
}

/** Signs in through an upstream OP end to end; returns the RP's tokens. */
async function signInThrough(upstream: TestUpstream, idpHint: string) {
  const browser = new Browser();
  const { page, request } = await startSignIn(browser, idpHint);
  expect(page.url.startsWith(upstream.issuer), `${page.status} ${page.url} ${page.body.slice(0, 500)}`).toBe(true);
  const callback = await upstream.browserLogin(page.url);
  const back = await browser.follow(callback.href, {}, TEST_CLIENT.redirectUri);
  const rpCallback = await completeLogin(browser, back, TEST_CLIENT.redirectUri);
  return oidc.authorizationCodeGrant(rp, rpCallback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
}

/** A sign-in left at the upstream's answer: the callback URL with a fresh code, not yet delivered to the broker. */
async function pendingCallback(): Promise<{ browser: Browser; callback: URL }> {
  const browser = new Browser();
  const { page } = await startSignIn(browser, 'acme');
  return { browser, callback: await acme.browserLogin(page.url) };
}

function expectFriendlyPage(page: Page, code?: string): void {
  expect(page.status).toBe(503);
  expect(Number(page.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(page.headers.get('content-type')).toContain('text/html');
  expect(page.body).toContain('ACME SSO is not responding');
  expect(page.body).toContain('role="alert"');
  // The other providers this client may use, each a button that starts a sign-in with it; the down one is only retried.
  expect(page.body).toContain('Continue with Other IdP');
  expect(page.body).toContain('Continue with Local accounts');
  expect(page.body).not.toContain('Continue with ACME SSO');
  expect(page.body).toContain('Try ACME SSO again');
  if (code) expect(page.body).toContain(`<code>${code}</code>`);
  // Never the internal detail (addresses, stack, library messages).
  expect(page.body).not.toMatch(/ECONNREFUSED|fetch failed|127\.0\.0\.1:\d+\/token|at .*\.ts:\d+/);
}

beforeAll(async () => {
  const brokerPort = await freeLoopbackPort();
  issuer = `http://127.0.0.1:${brokerPort}`;
  acme = await startTestUpstream({ brokerIssuer: issuer, connectorId: 'acme' });
  acmePort = Number(new URL(acme.issuer).port);
  other = await startTestUpstream({ brokerIssuer: issuer, connectorId: 'other' });
  const local = await localProvider('local', []);
  const file = await writeSharedConfig({
    issuer,
    redisUrl: REDIS_URL,
    prefix,
    providers: [
      { id: 'acme', type: 'oidc', name: 'ACME SSO', domains: [], reverifyIntervalSeconds: 1, config: acme.connectorConfig({ timeoutMs: TIMEOUT_MS }) },
      { id: 'other', type: 'oidc', name: 'Other IdP', domains: [], config: other.connectorConfig({ timeoutMs: TIMEOUT_MS }) },
      { ...local, name: 'Local accounts' },
    ],
    extra: {
      auditLog: 'stdout',
      upstreamCircuit: { failureThreshold: FAILURE_THRESHOLD, cooldownSeconds: COOLDOWN_SECONDS },
      session: { sweepIntervalSeconds: 3600 },
    },
  });
  broker = brokerProcess(file, brokerPort);
  await broker.start();
  rp = await discoverRp(issuer);
}, 120_000);

afterAll(async () => {
  await killAllBrokerProcesses();
  await acme?.close().catch(() => {});
  await other?.close();
  const store = await openRedisStore({ prefix });
  await flushPrefix(store);
  await store.close();
});

describe('an upstream that is down, then hangs, then comes back', () => {
  let acmeTokens: Awaited<ReturnType<typeof signInThrough>>;
  let hang: Awaited<ReturnType<typeof startHang>>;

  it('signs in through the upstream while it is healthy', async () => {
    acmeTokens = await signInThrough(acme, 'acme');
    expect(acmeTokens.claims()?.email).toBe('alice@acme.test');
    expect(acmeTokens.refresh_token).toBeTruthy();
  });

  it('stopped (connection refused) at the callback: the friendly page names the provider and offers the others; the audit says why; a replayed callback or one finished in another browser is refused without an upstream call', async () => {
    const pending = await Promise.all(Array.from({ length: FAILURE_THRESHOLD }, () => pendingCallback()));
    const stolen = await pendingCallback();
    await acme.close();
    // Finished by another browser: refused before any upstream call (the login CSRF check comes first), no failure counted.
    const elsewhere = await new Browser().follow(stolen.callback.href, {}, TEST_CLIENT.redirectUri);
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body).toContain('callback_wrong_browser');
    const first = await pending[0]!.browser.follow(pending[0]!.callback.href, {}, TEST_CLIENT.redirectUri);
    expectFriendlyPage(first, 'upstream_unavailable');
    // The same callback again (a reload, a replay): its transaction is spent, so no second upstream call.
    const replayed = await pending[0]!.browser.follow(pending[0]!.callback.href, {}, TEST_CLIENT.redirectUri);
    expect(replayed.status).toBe(400);
    expect(replayed.body).toContain('transaction_not_found');
    expect(auditRecordsOf(broker)).toContainEqual(expect.objectContaining({ event: 'upstream.callback.rejected', outcome: 'failure', reason: 'upstream_unavailable', connectorId: 'acme' }));
    // The rest reach the threshold: the circuit opens (the refused and replayed callbacks above counted for nothing).
    expect(auditRecordsOf(broker).some((r) => r.event === 'upstream.circuit')).toBe(false);
    for (const { browser, callback } of pending.slice(1)) expectFriendlyPage(await browser.follow(callback.href, {}, TEST_CLIENT.redirectUri));
    expect(auditRecordsOf(broker)).toContainEqual(expect.objectContaining({ event: 'upstream.circuit', outcome: 'failure', connectorId: 'acme', reason: 'failures', details: expect.objectContaining({ from: 'closed', to: 'open' }) }));
    expect(broker.output()).not.toMatch(/"(access_token|refresh_token|id_token|code_verifier)":"[^"]/);
  });

  it('with the circuit open, a new sign-in fails fast on the same page; its other providers really start a sign-in', async () => {
    const browser = new Browser();
    const { page, request } = await startSignIn(browser, 'acme');
    expectFriendlyPage(page, 'upstream_circuit_open');
    expect(Number(page.headers.get('retry-after'))).toBeLessThanOrEqual(COOLDOWN_SECONDS);
    const chooseForm = forms(page).find((f) => f.action.endsWith('/choose'));
    expect(chooseForm?.fields.csrf).toBeTruthy();
    const login = await browser.follow(new URL(chooseForm!.action, page.url).href, { form: { ...chooseForm!.fields, connector: 'local' } }, TEST_CLIENT.redirectUri);
    const rpCallback = await completeLogin(browser, login, TEST_CLIENT.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(rp, rpCallback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
    expect(tokens.claims()?.email).toBe('alice@example.com');
  });

  it('forged and malformed choices from that page are refused', async () => {
    const browser = new Browser();
    const { page } = await startSignIn(browser, 'acme');
    const form = forms(page).find((f) => f.action.endsWith('/choose'))!;
    const url = new URL(form.action, page.url).href;
    expect((await browser.request(url, { form: { ...form.fields, csrf: 'forged' , connector: 'local' } })).status).toBe(403);
    expect((await browser.request(url, { form: { ...form.fields, connector: 'no-such-provider' } })).status).toBe(400);
    expect((await browser.request(url, { form: { ...form.fields, connector: 'x'.repeat(20_000) } })).status).toBeGreaterThanOrEqual(400);
    expect((await new Browser().request(url, { form: { ...form.fields, connector: 'local' } })).status).toBe(400);
  });

  it('hanging: after the cooldown one probe reaches it and times out; meanwhile no request reaches it', async () => {
    hang = await startHang(acmePort);
    await sleep(COOLDOWN_SECONDS * 1000);
    const probe = await startSignIn(new Browser(), 'acme');
    expectFriendlyPage(probe.page, 'upstream_timeout');
    expect(hang.requests()).toBe(1);
    expect(auditRecordsOf(broker)).toContainEqual(expect.objectContaining({ event: 'upstream.circuit', connectorId: 'acme', reason: 'probe_failed' }));
    for (let i = 0; i < 5; i++) expectFriendlyPage((await startSignIn(new Browser(), 'acme')).page, 'upstream_circuit_open');
    expect(hang.requests()).toBe(1);
  });

  it('two users at the same moment during the half-open probe: one request reaches the upstream', async () => {
    await sleep(COOLDOWN_SECONDS * 1000);
    const before = hang.requests();
    const [a, b] = await Promise.all([startSignIn(new Browser(), 'acme'), startSignIn(new Browser(), 'acme')]);
    expectFriendlyPage(a.page);
    expectFriendlyPage(b.page);
    expect([a.page.body.includes('<code>upstream_circuit_open</code>'), b.page.body.includes('<code>upstream_circuit_open</code>')]).toContain(true);
    expect(hang.requests() - before).toBe(1);
  });

  it('sign-ins through another OIDC upstream and local accounts succeed while it hangs', async () => {
    const [viaOther, viaLocal] = await Promise.all([
      signInThrough(other, 'other'),
      (async () => {
        const browser = new Browser();
        const { page, request } = await startSignIn(browser, 'local');
        const rpCallback = await completeLogin(browser, page, TEST_CLIENT.redirectUri);
        return oidc.authorizationCodeGrant(rp, rpCallback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      })(),
    ]);
    expect(viaOther.claims()?.email).toBe('alice@acme.test');
    expect(viaLocal.claims()?.email).toBe('alice@example.com');
  });

  it('re-verifying a session of the dead upstream keeps it (grace): the refresh answers 503, never invalid_grant, and the session is not ended', async () => {
    const refresh = async () => {
      const answer = await fetch(rp.serverMetadata().token_endpoint!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${TEST_CLIENT.clientId}:${TEST_CLIENT.clientSecret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: acmeTokens.refresh_token! }).toString(),
      });
      return `${answer.status} ${((await answer.json()) as { error?: string }).error}`;
    };
    expect(await refresh()).toBe('503 temporarily_unavailable');
    expect(await refresh()).toBe('503 temporarily_unavailable');
    const records = auditRecordsOf(broker);
    expect(records).toContainEqual(expect.objectContaining({ event: 'session.reverified', outcome: 'failure', connectorId: 'acme' }));
    expect(records.some((r) => r.event === 'session.ended')).toBe(false);
  });

  it('when the upstream comes back, sign-ins through it work again without a restart (the probe closes the circuit)', async () => {
    await hang.close();
    acme = await startTestUpstream({ brokerIssuer: issuer, connectorId: 'acme', port: acmePort, jwks: acme.jwks, client: { client_id: acme.clientId, client_secret: acme.clientSecret } });
    await sleep(COOLDOWN_SECONDS * 1000);
    const tokens = await signInThrough(acme, 'acme');
    expect(tokens.claims()?.email).toBe('alice@acme.test');
    expect(auditRecordsOf(broker)).toContainEqual(expect.objectContaining({ event: 'upstream.circuit', outcome: 'success', connectorId: 'acme', reason: 'probe_succeeded' }));
    expect(broker.running).toBe(true);
  });
});
