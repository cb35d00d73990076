// Property: arbitrary Cookie headers (session pointer, browser binding, oidc-provider's session and interaction, .sig variants, other accounts' values) never sign anyone in.
import fc from 'fast-check';
import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINDING_COOKIE } from '../../src/federation/browser-binding.js';
import { SESSION_COOKIE } from '../../src/federation/session-cookie.js';
import type { RedisStore } from '../../src/store/redis.js';
import { csrfToken } from '../../src/http/csrf.js';
import { Browser } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore } from '../helpers/redis.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { PROPERTY_TEST_TIMEOUT_MS, runParameters } from './runs.js';

const POINTER_SIG = `${SESSION_COOKIE}.sig`;
/** The cookies that carry a sign-in or a login in progress (the broker's and oidc-provider's), with their signatures. */
const COOKIE_NAMES = [SESSION_COOKIE, POINTER_SIG, BINDING_COOKIE, `${BINDING_COOKIE}.sig`, '_session', '_session.sig', '_session.legacy', '_session.legacy.sig', '_interaction', '_interaction.sig', '_interaction_resume', '_interaction_resume.sig', 'vestibule_device', 'vestibule_lang'];

let broker: TestBroker;
let store: RedisStore;
let rp: oidc.Configuration;
/** Alice's genuine cookies after a full sign-in: another account's values for the forgeries to reuse. */
let alice: Record<string, string>;
/** Bob's browser, stopped at the login form: his interaction and its cookies (whose values the forgeries also reuse). */
let bob: { uid: string; cookies: Record<string, string> };

const cookiesOf = (browser: Browser) =>
  Object.fromEntries(COOKIE_NAMES.map((name) => [name, browser.cookie(broker.issuer, name)]).filter((entry): entry is [string, string] => entry[1] !== undefined));

beforeAll(async () => {
  store = await openRedisStore();
  broker = await startBroker({ store });
  rp = await discoverRp(broker.issuer);
  const browser = new Browser();
  const request = await authorizationRequest(rp, TEST_CLIENT);
  const first = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  await completeLogin(browser, first, TEST_CLIENT.redirectUri);
  alice = cookiesOf(browser);
  expect(Object.keys(alice)).toEqual(expect.arrayContaining([SESSION_COOKIE, POINTER_SIG, '_session', '_session.sig']));
  const bobBrowser = new Browser();
  const form = await bobBrowser.follow((await authorizationRequest(rp, TEST_CLIENT)).url.href);
  expect(form.status).toBe(200);
  const uid = bobBrowser.history.map((h) => /\/interaction\/([^/?#]+)$/.exec(new URL(h).pathname)?.[1]).find(Boolean)!;
  bob = { uid, cookies: cookiesOf(bobBrowser) };
  expect(Object.keys(bob.cookies)).toEqual(expect.arrayContaining(['_interaction', '_interaction.sig']));
});

afterAll(async () => {
  await broker?.close();
  if (store) await disposeRedisStore(store);
});

const headerOf = (pairs: Array<[string, string]>) => pairs.map(([n, v]) => `${n}=${v}`).join('; ');
/** The value a cookie parser takes for a name: its first occurrence. */
const effective = (pairs: Array<[string, string]>, name: string) => pairs.find(([n]) => n === name)?.[1];
/** The request carries Alice's own signed cookie (value and signature), not a forgery of it. */
const genuine = (pairs: Array<[string, string]>, name: string, owner: Record<string, string> = alice) =>
  effective(pairs, name) === owner[name] && effective(pairs, `${name}.sig`) === owner[`${name}.sig`];

/** Characters a Cookie header can carry (visible ASCII, space, tab and Latin-1), separators included. */
const headerChar = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }), fc.constant(0x09)).map((c) => String.fromCharCode(c));
const POINTER = () => alice[SESSION_COOKIE]!;
const value = fc.oneof(
  { arbitrary: fc.string({ unit: headerChar, maxLength: 40 }), weight: 3 },
  { arbitrary: fc.constantFrom(...COOKIE_NAMES).map((name) => `\u0001alice:${name}`), weight: 3 },
  { arbitrary: fc.constantFrom('_interaction', '_interaction.sig', BINDING_COOKIE, `${BINDING_COOKIE}.sig`).map((name) => `\u0001bob:${name}`), weight: 2 },
  { arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,20}\.[A-Za-z0-9_-]{1,20}$/), weight: 2 },
  { arbitrary: fc.constantFrom('pointer-with-other-session', 'pointer-with-other-account', 'pointer-flipped').map((k) => `\u0001forge:${k}`), weight: 2 },
  { arbitrary: fc.nat({ max: 20_000 }).map((n) => 'A'.repeat(n)), weight: 1 },
  { arbitrary: fc.constantFrom('', '"', '""', '=', ';', '\\', 'undefined', 'null', '__proto__', '%00', '%E0%A4%A'), weight: 1 },
);
const name = fc.oneof({ arbitrary: fc.constantFrom(...COOKIE_NAMES), weight: 5 }, { arbitrary: fc.string({ unit: headerChar, maxLength: 12 }), weight: 1 });

/** Fills in Alice's real values and forged session pointers built from them. */
function resolve(raw: string): string {
  if (raw.startsWith('\u0001alice:')) return alice[raw.slice('\u0001alice:'.length)] ?? '';
  if (raw.startsWith('\u0001bob:')) return bob.cookies[raw.slice('\u0001bob:'.length)] ?? '';
  if (!raw.startsWith('\u0001forge:')) return raw;
  const [accountId, sessionId] = POINTER().split('.') as [string, string];
  const kind = raw.slice('\u0001forge:'.length);
  if (kind === 'pointer-with-other-session') return `${accountId}.${sessionId.slice(0, -1)}${sessionId.endsWith('A') ? 'B' : 'A'}`;
  if (kind === 'pointer-with-other-account') return `x${accountId.slice(1)}.${sessionId}`;
  return `${sessionId}.${accountId}`;
}

async function get(path: string, cookie: string): Promise<Response> {
  return fetch(`${broker.issuer}${path}`, { headers: { cookie, accept: 'text/html' }, redirect: 'manual' });
}

/** Bob's login form with the right password and CSRF token, under the given Cookie header. */
function postBobsLogin(cookie: string): Promise<Response> {
  return fetch(`${broker.issuer}/interaction/${bob.uid}/login`, {
    method: 'POST',
    headers: { cookie, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ connector: 'local', username: TEST_USER.username, password: TEST_USER.password, csrf: csrfToken(broker.config.cookieKeys[0]!, bob.uid) }).toString(),
    redirect: 'manual',
  });
}

/** An authorization with prompt=none: a code only for a browser that is signed in. */
async function silentAuthorization(cookie: string): Promise<{ status: number; location: URL | undefined }> {
  const request = await authorizationRequest(rp, TEST_CLIENT, { prompt: 'none' });
  let response = await get(`${request.url.pathname}${request.url.search}`, cookie);
  // oidc-provider resumes prompt=none through its own redirect; follow it on the broker's origin.
  for (let hops = 0; hops < 5 && response.status >= 300 && response.status < 400; hops++) {
    const location = new URL(response.headers.get('location')!, broker.issuer);
    if (location.origin !== broker.issuer) return { status: response.status, location };
    response = await get(`${location.pathname}${location.search}`, cookie);
  }
  return { status: response.status, location: undefined };
}

describe('cookies and the session pointer', () => {
  it('Alice\'s own cookies sign her in and open her account page (the control)', async () => {
    const pairs = Object.entries(alice);
    const silent = await silentAuthorization(headerOf(pairs));
    expect(silent.location?.searchParams.get('code')).toBeTruthy();
    expect((await get('/account/security', headerOf(pairs))).status).toBe(200);
    // Her pointer with its signature swapped for another cookie's is refused.
    const forged = pairs.map(([n, v]): [string, string] => [n, n === POINTER_SIG ? alice['_session.sig']! : v]);
    expect((await get('/account/security', headerOf(forged))).status).toBe(401);
  });

  it('any Cookie header: never 5xx; signed in (or shown an account page) only with Alice\'s genuine signed cookie', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 8 }), async (generated) => {
        const pairs = generated.map(([n, v]): [string, string] => [n, resolve(v)]);
        const cookie = headerOf(pairs);
        const silent = await silentAuthorization(cookie);
        expect(silent.status).toBeLessThan(500);
        const code = silent.location?.searchParams.get('code');
        if (!genuine(pairs, '_session')) {
          expect(code ?? null, `signed in with forged cookies: ${cookie.slice(0, 200)}`).toBeNull();
          if (silent.location) expect(silent.location.searchParams.get('error')).toBe('login_required');
        }
        const account = await get('/account/security', cookie);
        expect(account.status).toBeLessThan(500);
        // The account page opens only with the pointer Alice was given, signed: a forged pointer resolves to no session.
        if (!genuine(pairs, SESSION_COOKIE)) expect(account.status, `account page with forged pointer: ${cookie.slice(0, 200)}`).not.toBe(200);
        const logout = await get('/session/end', cookie);
        expect(logout.status).toBeLessThan(500);
        // Bob's login form posted with the right password (and the right CSRF token): it completes only in Bob's own
        // browser, whose interaction cookie is the proof; anyone else's cookies get no sign-in.
        const logins = broker.audit.filter((e) => e.event === 'login.success').length;
        const posted = await postBobsLogin(cookie);
        expect(posted.status).toBeLessThan(500);
        if (!genuine(pairs, '_interaction', bob.cookies)) {
          expect(posted.status, `login completed with forged interaction cookies: ${cookie.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
          expect(broker.audit.filter((e) => e.event === 'login.success').length).toBe(logins);
        }
      }),
      { ...runParameters(120), timeout: 20_000 },
    );
    // Nothing above ended Alice's session (only a genuine logout confirmation could).
    const [accountId, sessionId] = alice[SESSION_COOKIE]!.split('.') as [string, string];
    expect(await broker.app.broker.sessions.get(accountId, sessionId)).toBeDefined();
  }, PROPERTY_TEST_TIMEOUT_MS);

  it('Bob\'s own interaction cookies do complete his login (the control for the interaction check; runs last, it uses his login up)', async () => {
    const posted = await postBobsLogin(headerOf(Object.entries(bob.cookies)));
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toContain(`/auth/${bob.uid}`);
  });
});
