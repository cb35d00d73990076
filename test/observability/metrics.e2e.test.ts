// /metrics on the main port behind a bearer token, broker on Redis: scraped over HTTP after real local and federated sign-ins and a refresh.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { localProvider, startBroker, TEST_CLIENT, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { openRedisStore } from '../helpers/redis.js';
import { closeTestStore } from '../helpers/stores.js';
import { OFFLINE, tokenRequest } from '../helpers/token-endpoint.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';
import { sample, scrape } from './scrape.js';

const TOKEN = 'metrics-test-token-0123456789abcdefghij';

let up: TestUpstream;
let broker: TestBroker;
let metricsUrl: string;
let store: KeyValueStore;

beforeAll(async () => {
  const port = await freeLoopbackPort();
  // Upstream access tokens live 60 s: inside the refresh window, so a downstream refresh calls the upstream.
  up = await startTestUpstream({ brokerIssuer: `http://127.0.0.1:${port}`, connectorId: 'acme', ttl: { accessToken: 60 } });
  store = await openRedisStore();
  broker = await startBroker({
    port,
    store,
    providers: [await localProvider('local', []), { id: 'acme', type: 'oidc', name: 'ACME', config: up.connectorConfig() }],
    config: { metrics: { enabled: true, onMainPort: true, token: '$METRICS_TOKEN' } },
    env: { METRICS_TOKEN: TOKEN },
  });
  metricsUrl = `${broker.issuer}/metrics`;
});

afterAll(async () => {
  await broker?.close();
  await up?.close();
  await closeTestStore(store);
});

/** Signs in through the choose page with `connector`; `upstream` answers the upstream's login form. */
async function signIn(connector: 'local' | 'acme', password = TEST_USER.password) {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config, TEST_CLIENT, OFFLINE);
  const browser = new Browser();
  let page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  page = await browser.submit(page, '/choose', { connector }, TEST_CLIENT.redirectUri);
  if (connector === 'acme') page = await browser.submit(page, '/login', { username: 'alice', password: 'alice-pw' }, TEST_CLIENT.redirectUri);
  const callback = await completeLogin(browser, page, TEST_CLIENT.redirectUri, { password });
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
  return { config, tokens };
}

describe('counters move with real sign-ins', () => {
  it('counts a local sign-in, its token and its store operations', async () => {
    const before = await scrape(metricsUrl, TOKEN);
    await signIn('local');
    const after = await scrape(metricsUrl, TOKEN);
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('vestibule_sign_ins_total', { connector: 'local', outcome: 'success', reason: 'none' })).toBe(1);
    expect(delta('vestibule_risk_decisions_total', { phase: 'sign-in', level: 'low', action: 'allow' })).toBe(1);
    expect(delta('vestibule_tokens_issued_total', { grant_type: 'authorization_code', client: TEST_CLIENT.clientId })).toBe(1);
    expect(delta('vestibule_audit_events_total', { event: 'consent.granted', outcome: 'success' })).toBe(1);
    expect(delta('vestibule_store_operation_duration_seconds_count', { op: 'get' })).toBeGreaterThan(0);
  });

  it('counts a federated sign-in, its upstream calls, and a refresh that re-verifies with the upstream', async () => {
    const before = await scrape(metricsUrl, TOKEN);
    const { config, tokens } = await signIn('acme');
    const middle = await scrape(metricsUrl, TOKEN);
    expect(sample(middle, 'vestibule_sign_ins_total', { connector: 'acme', outcome: 'success', reason: 'none' }) - sample(before, 'vestibule_sign_ins_total', { connector: 'acme', outcome: 'success', reason: 'none' })).toBe(1);
    const upstreamToken = { connector: 'acme', endpoint: 'token', outcome: '2xx' };
    expect(sample(middle, 'vestibule_upstream_request_duration_seconds_count', upstreamToken) - sample(before, 'vestibule_upstream_request_duration_seconds_count', upstreamToken)).toBe(1);
    expect(sample(middle, 'vestibule_upstream_request_duration_seconds_count', { connector: 'acme', endpoint: 'openid-configuration', outcome: '2xx' })).toBe(1);

    await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const after = await scrape(metricsUrl, TOKEN);
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(middle, name, labels);
    expect(delta('vestibule_tokens_issued_total', { grant_type: 'refresh_token', client: TEST_CLIENT.clientId })).toBe(1);
    expect(delta('vestibule_reverifications_total', { connector: 'acme', outcome: 'verified' })).toBe(1);
    expect(delta('vestibule_upstream_refreshes_total', { connector: 'acme', outcome: 'success', reason: 'none' })).toBe(1);
    expect(delta('vestibule_upstream_request_duration_seconds_count', upstreamToken)).toBe(1);
  });

  it('counts a refused password by reason', async () => {
    const before = await scrape(metricsUrl, TOKEN);
    const config = await discoverRp(broker.issuer);
    const request = await authorizationRequest(config);
    const browser = new Browser();
    let page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
    page = await browser.submit(page, '/choose', { connector: 'local' }, TEST_CLIENT.redirectUri);
    page = await browser.submit(page, '/login', { username: TEST_USER.username, password: 'wrong password' }, TEST_CLIENT.redirectUri);
    expect(page.status).toBe(401);
    const after = await scrape(metricsUrl, TOKEN);
    const labels = { connector: 'local', outcome: 'failure', reason: 'invalid_credentials' };
    expect(sample(after, 'vestibule_sign_ins_total', labels) - sample(before, 'vestibule_sign_ins_total', labels)).toBe(1);
  });

  it('keeps client-supplied strings, account ids and addresses out of the labels', async () => {
    const forged = `forged_${'x'.repeat(300)}`;
    const answer = await tokenRequest(broker, { grant_type: forged, code: 'abc' });
    expect(answer.status).toBe(400);
    const { tokens } = await signIn('local');
    const text = await scrape(metricsUrl, TOKEN);
    expect(sample(text, 'vestibule_token_errors_total', { grant_type: 'other', reason: 'unsupported_grant_type' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('forged_');
    expect(text).not.toContain(tokens.claims()!.sub);
    expect(text).not.toContain('127.0.0.1');
  });

  it('exports the Node defaults, the event-loop delay and the SAML queue depth', async () => {
    const text = await scrape(metricsUrl, TOKEN);
    for (const name of ['nodejs_eventloop_lag_p99_seconds', 'process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes', 'vestibule_saml_worker_queue_depth']) {
      expect(text).toMatch(new RegExp(`^${name} \\d`, 'm'));
    }
  });
});

describe('the bearer token', () => {
  const refused = async (init: RequestInit) => {
    const response = await fetch(metricsUrl, init);
    const body = await response.text();
    return { status: response.status, body, challenge: response.headers.get('www-authenticate') };
  };

  it('refuses a scrape without a token, with a wrong one, another scheme or an oversized one, and shows nothing', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }, { authorization: `Bearer ${'a'.repeat(8000)}` }, { authorization: 'Bearer' }];
    for (const headers of attempts) {
      const answer = await refused({ headers });
      expect(answer.status).toBe(401);
      expect(answer.challenge).toBe('Bearer realm="metrics"');
      expect(answer.body).toBe('unauthorized\n');
    }
  });

  it('answers only GET and HEAD', async () => {
    const answer = await refused({ method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: 'x' });
    expect(answer.status).toBe(405);
    expect(answer.body).not.toContain('vestibule_');
    const head = await fetch(metricsUrl, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(head.status).toBe(200);
  });

  it('accepts the scheme name in any case (RFC 7235 section 2.1)', async () => {
    expect((await fetch(metricsUrl, { headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
  });
});
