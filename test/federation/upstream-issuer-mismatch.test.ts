// An upstream OP that is not the configured issuer is refused (ASVS 10.5.3): its discovery document or ID token names another `iss`.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, type Page } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

/**
 * A plain HTTP proxy to `target`: the same OP reached at another URL, so its documents name an issuer other than the
 * proxy's. With `issuer`, the discovery document it passes on names that issuer instead.
 */
async function startProxy(target: string, issuer?: string): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const upstream = new URL(target);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (issuer && req.url === '/.well-known/openid-configuration') {
      void fetch(`${target}${req.url}`).then(async (answer) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...((await answer.json()) as object), issuer }));
      });
      return;
    }
    const forwarded = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let up: TestUpstream;
let proxy: Awaited<ReturnType<typeof startProxy>>;
let garbled: Awaited<ReturnType<typeof startProxy>>;
/** A discovery issuer an attacker might serve: long, with a line break and control characters. */
const GARBLED_ISSUER = `https://evil.example/\n\u0007${'x'.repeat(10_000)}`;
let broker: TestBroker;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const port = await freeLoopbackPort();
  const brokerIssuer = `http://127.0.0.1:${port}`;
  up = await startTestUpstream({ brokerIssuer, connectorId: 'acme', client: { redirect_uris: [`${brokerIssuer}/callback/acme`, `${brokerIssuer}/callback/impostor`] } });
  proxy = await startProxy(up.issuer);
  garbled = await startProxy(up.issuer, GARBLED_ISSUER);
  broker = await startBroker({
    port,
    logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) }),
    providers: [
      { id: 'acme', type: 'oidc', name: 'ACME SSO', config: up.connectorConfig() },
      // Configured under the proxy's URL: the discovery document it serves names up.issuer, not this.
      { id: 'impostor', type: 'oidc', name: 'Impostor SSO', config: up.connectorConfig({ issuer: proxy.url }) },
      // The right OP, configured with a trailing slash its issuer lacks: the same URL once parsed, but not the identical string.
      { id: 'slash', type: 'oidc', name: 'Slash SSO', config: up.connectorConfig({ issuer: `${up.issuer}/` }) },
      { id: 'garbled', type: 'oidc', name: 'Garbled SSO', config: up.connectorConfig({ issuer: garbled.url }) },
    ],
  });
});
afterAll(async () => {
  await broker?.close();
  await proxy?.close();
  await garbled?.close();
  await up?.close();
});

/** Starts a sign-in at the RP with `idp_hint`, following the broker until it answers with a page or sends the browser elsewhere. */
async function startSignIn(connector: string, browser = new Browser()): Promise<{ browser: Browser; page: Page }> {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config, TEST_CLIENT, { idp_hint: connector });
  return { browser, page: await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri) };
}

/** True when the browser has a broker session (prompt=none returns a code). */
async function hasBrokerSession(browser: Browser): Promise<boolean> {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config, TEST_CLIENT, { prompt: 'none' });
  const page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  return new URL(page.url).searchParams.has('code');
}

describe('an upstream whose discovery document names another issuer', () => {
  it('refuses the sign-in before the browser leaves the broker: an error page naming the problem, audited and logged', async () => {
    const auditFrom = broker.audit.length;
    const logFrom = logLines.length;
    const { browser, page } = await startSignIn('impostor');
    // The broker fetched the proxy's discovery document and went no further: no redirect to any upstream.
    expect(proxy.requests).toContain('/.well-known/openid-configuration');
    expect(page.url.startsWith(broker.issuer)).toBe(true);
    expect(browser.history.some((url) => url.startsWith(proxy.url) || url.startsWith(up.issuer))).toBe(false);
    expect(page.status).toBe(502);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.body).toContain('upstream_issuer_mismatch');
    expect(page.body).toContain('role="alert"');
    expect(page.body).toContain('The sign-in service is misconfigured. Please contact support.');
    // Not the "did not answer, try again later" page of an outage: retrying cannot help.
    expect(page.headers.get('retry-after')).toBeNull();
    expect(page.body).not.toContain('did not answer');
    const event = broker.audit.slice(auditFrom).find((e) => e.event === 'login.failure');
    expect(event).toMatchObject({ outcome: 'failure', reason: 'upstream_issuer_mismatch', connectorId: 'impostor', clientId: TEST_CLIENT.clientId });
    expect(String(event?.details?.detail)).toMatch(/issuer/);
    const line = logLines.slice(logFrom).find((l) => l.code === 'upstream_issuer_mismatch');
    expect(String(line?.detail)).toMatch(/issuer/);
    expect(await hasBrokerSession(browser)).toBe(false);
  });

  it('says so in Simplified Chinese too', async () => {
    const { page } = await startSignIn('impostor', new Browser({ acceptLanguage: 'zh-CN' }));
    expect(page.status).toBe(502);
    expect(page.body).toContain('lang="zh-CN"');
    expect(page.body).toContain('登录服务配置有误，请联系技术支持。');
    expect(page.body).toContain('upstream_issuer_mismatch');
  });

  it('is refused again on every attempt (a refused document is not cached as good), and the real issuer still works', async () => {
    const before = proxy.requests.filter((path) => path === '/.well-known/openid-configuration').length;
    expect((await startSignIn('impostor')).page.status).toBe(502);
    expect(proxy.requests.filter((path) => path === '/.well-known/openid-configuration').length).toBe(before + 1);
    const { page } = await startSignIn('acme');
    expect(page.url.startsWith(up.issuer)).toBe(true);
  });

  it('a configured issuer that differs only by a trailing slash is refused too (identical, not merely equivalent)', async () => {
    const auditFrom = broker.audit.length;
    const { page } = await startSignIn('slash');
    expect(page.status).toBe(502);
    expect(page.body).toContain('upstream_issuer_mismatch');
    const event = broker.audit.slice(auditFrom).find((e) => e.event === 'login.failure');
    expect(event).toMatchObject({ reason: 'upstream_issuer_mismatch', connectorId: 'slash' });
    expect(String(event?.details?.detail)).toContain(`"${up.issuer}", not the configured "${up.issuer}/"`);
  });

  it('a long issuer with control characters in the document: refused the same way, and only a short, printable excerpt reaches the page, log and audit', async () => {
    const auditFrom = broker.audit.length;
    const logFrom = logLines.length;
    const { page } = await startSignIn('garbled');
    expect(page.status).toBe(502);
    expect(page.body).toContain('upstream_issuer_mismatch');
    expect(page.body).not.toContain('xxxxxxxxxx');
    const event = broker.audit.slice(auditFrom).find((e) => e.event === 'login.failure');
    expect(event).toMatchObject({ reason: 'upstream_issuer_mismatch', connectorId: 'garbled' });
    const line = logLines.slice(logFrom).find((l) => l.code === 'upstream_issuer_mismatch');
    for (const detail of [String(event?.details?.detail), String(line?.detail)]) {
      expect(detail).toContain('"https://evil.example/??xxx');
      expect(detail.length).toBeLessThan(400);
      expect(detail).not.toMatch(/[\n\u0007]/);
    }
  });
});

describe('an ID token whose iss is not the upstream\'s issuer', () => {
  /** Signs in at the upstream with the token response's ID token re-signed (upstream key) with `iss`, then follows the callback. */
  async function signInWithIss(iss: string) {
    const auditFrom = broker.audit.length;
    const { browser, page } = await startSignIn('acme');
    expect(page.url.startsWith(up.issuer)).toBe(true);
    up.tamperIdTokens((claims) => up.signIdToken({ ...claims, iss }));
    try {
      const atCallback = await browser.submit(page, '/login', { username: 'alice', password: 'alice-pw' }, `${broker.issuer}/callback/`);
      expect(new URL(atCallback.url).searchParams.get('iss')).toBe(up.issuer);
      const result = await browser.follow(atCallback.url, {}, TEST_CLIENT.redirectUri);
      return { browser, result, auditFrom };
    } finally {
      up.tamperIdTokens(undefined);
    }
  }

  it.each([
    ['another issuer', 'https://evil.example'],
    ['the issuer with a trailing slash', 'TRAILING_SLASH'],
    ['the proxy\'s URL (the same OP under another name)', 'PROXY'],
  ])('%s: an error page, upstream.callback.rejected audited with invalid_id_token, no session', async (_name, which) => {
    const iss = which === 'TRAILING_SLASH' ? `${up.issuer}/` : which === 'PROXY' ? proxy.url : which;
    const { browser, result, auditFrom } = await signInWithIss(iss);
    const events = broker.audit.slice(auditFrom);
    expect(result.status).toBe(400);
    expect(result.headers.get('content-type')).toContain('text/html');
    expect(result.body).toContain('invalid_id_token');
    const rejected = events.find((e) => e.event === 'upstream.callback.rejected');
    expect(rejected).toMatchObject({ outcome: 'failure', reason: 'invalid_id_token', connectorId: 'acme' });
    expect(String(rejected?.details?.detail)).toMatch(/iss/);
    expect(events.some((e) => e.event === 'login.success')).toBe(false);
    expect(await hasBrokerSession(browser)).toBe(false);
  });

  it('the same tampering with the genuine iss signs in (the forgery is only in iss)', async () => {
    const { browser, result, auditFrom } = await signInWithIss(up.issuer);
    const back = await completeLogin(browser, result, TEST_CLIENT.redirectUri);
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(broker.audit.slice(auditFrom).some((e) => e.event === 'login.success' && e.connectorId === 'acme')).toBe(true);
    expect(await hasBrokerSession(browser)).toBe(true);
  });
});
