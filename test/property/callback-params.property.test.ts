// Property: arbitrary query strings and form bodies on the upstream callbacks and interaction forms never give a 5xx, a session, or an unescaped echo.
import fc from 'fast-check';
import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSamlServiceProvider } from '../../src/connectors/saml.js';
import { csrfToken } from '../../src/http/csrf.js';
import { SESSION_COOKIE } from '../../src/federation/session-cookie.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { Browser, type Page } from '../helpers/browser.js';
import { localProvider, startBroker, TEST_CLIENT, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore } from '../helpers/redis.js';
import { authorizationRequest, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';
import { SP_CERT, SP_KEY, TestIdp, b64 } from '../helpers/upstream-saml.js';
import { authnRequestFromRedirect, requestIdOf } from '../connectors/saml-setup.js';
import type { RedisStore } from '../../src/store/redis.js';
import { PROPERTY_TEST_TIMEOUT_MS, runParameters } from './runs.js';

let broker: TestBroker;
let up: TestUpstream;
let idp: TestIdp;
let store: KeyValueStore;
let rp: oidc.Configuration;
/** A browser with a login in progress at the local form (its interaction cookies, its uid). */
let user: { browser: Browser; uid: string };

beforeAll(async () => {
  store = await openRedisStore();
  const port = await freeLoopbackPort();
  up = await startTestUpstream({ brokerIssuer: `http://127.0.0.1:${port}`, connectorId: 'acme' });
  broker = await startBroker({
    port,
    store,
    providers: [
      await localProvider(),
      { id: 'acme', type: 'oidc', name: 'ACME', config: up.connectorConfig() },
      { id: 'corp-saml', type: 'saml', name: 'Corp SAML', config: { idp: { metadataXml: TestIdp.metadata() }, sp: { signingKey: SP_KEY, signingCert: SP_CERT }, schemaValidation: 'off' } },
    ],
  });
  const connector = broker.app.broker.connectors.get('corp-saml')!;
  if (!isSamlServiceProvider(connector)) throw new Error('not SAML');
  idp = new TestIdp(connector.spMetadata());
  rp = await discoverRp(broker.issuer);
  const request = await authorizationRequest(rp, TEST_CLIENT, { idp_hint: 'local' });
  const browser = new Browser();
  const form = await browser.follow(request.url.href);
  const uid = browser.history.map((h) => /\/interaction\/([^/?#]+)$/.exec(new URL(h).pathname)?.[1]).find(Boolean);
  expect(form.status).toBe(200);
  expect(uid).toBeTruthy();
  user = { browser, uid: uid! };
});

afterAll(async () => {
  await broker?.close();
  await up?.close();
  if (store) await disposeRedisStore(store as RedisStore);
});

/** Placeholders a generated value may be, filled in at run time with something live. */
const FRESH_OIDC_STATE = '\u0001fresh-oidc-state';
const FRESH_RELAY_STATE = '\u0001fresh-relay-state';
const LIVE_CSRF = '\u0001live-csrf';
const PARKED_LOGIN = '\u0001parked-login';
const OWN_OIDC_STATE = '\u0001own-oidc-state';
const OWN_RELAY_STATE = '\u0001own-relay-state';
const UPSTREAM_ISSUER = '\u0001upstream-issuer';

/** Values that would run script if a page echoed them raw. */
const MARKUP = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'><svg/onload=alert(1)>", '</textarea><b>x</b>', '{{ 7*7 }}<i>'];

const value = fc.oneof(
  { arbitrary: fc.string({ maxLength: 30 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 2 },
  { arbitrary: fc.constantFrom(...MARKUP), weight: 2 },
  { arbitrary: fc.constantFrom(FRESH_OIDC_STATE, FRESH_RELAY_STATE, OWN_OIDC_STATE, OWN_RELAY_STATE, LIVE_CSRF, PARKED_LOGIN), weight: 3 },
  { arbitrary: fc.nat({ max: 200_000 }).map((n) => 'x'.repeat(n)), weight: 1 },
  { arbitrary: fc.constantFrom('', ' ', '%', '%00', '\u0000', 'local', 'acme', 'corp-saml', TEST_USER.username, '__proto__'), weight: 2 },
  { arbitrary: fc.constantFrom(UPSTREAM_ISSUER, 'access_denied', 'login_required', 'interaction_required', 'server_error', 'invalid_request'), weight: 2 },
);
const KEYS = ['state', 'code', 'iss', 'error', 'error_description', 'SAMLResponse', 'RelayState', 'login', 'connector', 'username', 'password', 'email', 'csrf', 'prompt', 'state[]', 'state[0]', '__proto__'];
/** The authorization response's own parameters come up most. */
const key = fc.oneof({ arbitrary: fc.constantFrom('code', 'error', 'iss'), weight: 3 }, { arbitrary: fc.constantFrom(...KEYS), weight: 4 }, { arbitrary: fc.string({ maxLength: 12 }), weight: 1 });
/** Key/value pairs: repeated keys, arrays (`state[]`) and missing state all arise. */
const pairs = fc.array(fc.tuple(key, value), { maxLength: 6 });
/**
 * The state a request leads with (before the generated pairs, which may repeat it): none, a login this browser started
 * (so the request reaches the connector: a forged code, an error, a SAMLResponse), another browser's, or noise.
 */
const leadingState = fc.constantFrom<Array<[string, string]>>(
  [],
  [['state', OWN_OIDC_STATE]],
  [['RelayState', OWN_RELAY_STATE]],
  [['state', FRESH_OIDC_STATE]],
  [['RelayState', FRESH_RELAY_STATE]],
  [['state', 'x']],
);

const TARGETS = [
  { name: 'OIDC callback GET', method: 'GET', path: () => '/callback/acme' },
  { name: 'OIDC callback POST (form_post)', method: 'POST', path: () => '/callback/acme' },
  { name: 'SAML ACS POST', method: 'POST', path: () => '/callback/corp-saml' },
  { name: 'SAML ACS GET', method: 'GET', path: () => '/callback/corp-saml' },
  { name: 'SAML completion GET', method: 'GET', path: () => '/callback/corp-saml/complete' },
  { name: 'unknown connector callback', method: 'POST', path: () => '/callback/nope' },
  { name: 'interaction login form', method: 'POST', path: () => `/interaction/${user.uid}/login` },
  { name: 'interaction choose form', method: 'POST', path: () => `/interaction/${user.uid}/choose` },
  { name: 'interaction consent form', method: 'POST', path: () => `/interaction/${user.uid}/consent` },
  { name: 'interaction of another uid', method: 'POST', path: () => '/interaction/not-a-real-uid/login' },
] as const;

/** A login started by a browser (another one unless given), stopped at its upstream: its state (OIDC) or RelayState (SAML). */
async function freshState(kind: 'oidc' | 'saml', other = new Browser()): Promise<string> {
  const request = await authorizationRequest(rp, TEST_CLIENT, { idp_hint: kind === 'oidc' ? 'acme' : 'corp-saml' });
  const atUpstream = await other.follow(request.url.href, {}, kind === 'oidc' ? up.issuer : idp.ssoUrl);
  const url = new URL(atUpstream.url);
  return url.searchParams.get(kind === 'oidc' ? 'state' : 'RelayState')!;
}

/** A SAML login another browser finished at the ACS, waiting for that browser's completion GET: its one-time key. */
async function parkedLogin(): Promise<string> {
  const request = await authorizationRequest(rp, TEST_CLIENT, { idp_hint: 'corp-saml' });
  const other = new Browser();
  const atIdp = await other.follow(request.url.href, {}, idp.ssoUrl);
  const acs = `${broker.issuer}/callback/corp-saml`;
  const xml = await idp.responseXml({ inResponseTo: requestIdOf(authnRequestFromRedirect(atIdp.url)), nameId: `other-${++others}`, sign: 'assertion' }, acs, `${broker.issuer}/saml/corp-saml/metadata`);
  const page = await other.request(acs, { form: { SAMLResponse: b64(xml), RelayState: new URL(atIdp.url).searchParams.get('RelayState')! } });
  expect(page.status).toBe(303);
  return new URL(page.headers.get('location')!, broker.issuer).searchParams.get('login')!;
}
let others = 0;

async function resolveValue(raw: string, browser: Browser): Promise<string> {
  if (raw === PARKED_LOGIN) return parkedLogin();
  // A login this very browser started: the callback reaches the connector (a forged code goes to the upstream's token endpoint).
  if (raw === OWN_OIDC_STATE) return freshState('oidc', browser);
  if (raw === OWN_RELAY_STATE) return freshState('saml', browser);
  if (raw === FRESH_OIDC_STATE) return freshState('oidc');
  if (raw === FRESH_RELAY_STATE) return freshState('saml');
  if (raw === UPSTREAM_ISSUER) return up.issuer;
  if (raw === LIVE_CSRF) return csrfToken(broker.config.cookieKeys[0]!, user.uid);
  return raw;
}

/** What the page must not contain: a value with markup characters, verbatim (it may appear escaped). */
function expectNoRawEcho(page: Page, values: string[]): void {
  for (const v of values) {
    if (v.length >= 6 && /[<>"']/.test(v)) expect(page.body, `the page echoes ${JSON.stringify(v.slice(0, 60))} unescaped`).not.toContain(v);
  }
}

const logins = () => broker.audit.filter((e) => e.event === 'login.success').length;

describe('callback and form parameters', () => {
  it('the login form does echo a wrong username, escaped (the control for the raw-echo check)', async () => {
    const username = MARKUP[1]!;
    const page = await user.browser.request(`${broker.issuer}/interaction/${user.uid}/login`, { form: { connector: 'local', username, password: 'wrong', csrf: csrfToken(broker.config.cookieKeys[0]!, user.uid) } });
    expect(page.status).toBe(401);
    expect(page.body).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(() => expectNoRawEcho(page, [username])).not.toThrow();
    expect(() => expectNoRawEcho({ ...page, body: `${page.body}${username}` }, [username])).toThrow();
  });

  it('any parameters: never 5xx, no session, no raw echo', async () => {
    const before = logins();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TARGETS), leadingState, pairs, fc.boolean(), fc.boolean(), async (target, lead, rest, asUser, twice) => {
        const browser = asUser ? user.browser : new Browser();
        const generated = [...lead, ...rest];
        const resolved = await Promise.all(generated.map(async ([k, v]) => [k, await resolveValue(v, browser)] as [string, string]));
        const encoded = new URLSearchParams(resolved).toString();
        const url = `${broker.issuer}${target.path()}`;
        const send = () =>
          target.method === 'GET'
            ? browser.request(encoded ? `${url}?${encoded}` : url)
            : browser.request(url, { method: 'POST', body: encoded, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        // Sometimes the same request twice at the same moment (a double submit, a replay racing the original).
        const pages = await Promise.all(twice ? [send(), send()] : [send()]);
        for (const page of pages) {
          expect(page.status, `${target.name}: ${page.status}`).toBeLessThan(500);
          expect(page.headers.get('set-cookie') ?? '').not.toContain(`${SESSION_COOKIE}=`);
          expectNoRawEcho(page, resolved.flat());
        }
        expect(browser.cookie(broker.issuer, SESSION_COOKIE)).toBeUndefined();
      }),
      { ...runParameters(150), timeout: 20_000 },
    );
    expect(logins()).toBe(before);
    expect(await broker.app.broker.sessions.byUpstreamSubject('local', TEST_USER.username)).toEqual([]);
  }, PROPERTY_TEST_TIMEOUT_MS);

  it('non-form bodies on the POST endpoints: never 5xx, no session', async () => {
    const contentTypes = fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded; charset=utf-16', '', 'application/x-www-form-urlencoded');
    const body = fc.oneof(fc.string({ maxLength: 200 }), fc.json(), fc.nat({ max: 2_000_000 }).map((n) => 'a='.concat('b'.repeat(n))));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TARGETS.filter((t) => t.method === 'POST')), contentTypes, body, async (target, contentType, text) => {
        const page = await user.browser.request(`${broker.issuer}${target.path()}`, { method: 'POST', body: text, headers: contentType ? { 'content-type': contentType } : {} });
        expect(page.status, `${target.name}: ${page.status}`).toBeLessThan(500);
        expect(page.headers.get('set-cookie') ?? '').not.toContain(`${SESSION_COOKIE}=`);
      }),
      { ...runParameters(60), timeout: 20_000 },
    );
  }, PROPERTY_TEST_TIMEOUT_MS);
});
