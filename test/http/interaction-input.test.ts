// Bad input at the interaction routes: each answers a clear 4xx page, audits what matters, and nothing crashes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, forms, type Page } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, discoverRp } from '../helpers/rp.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(async () => broker?.close());

/** A browser standing on the local login form of a fresh interaction. */
async function atLoginForm(acceptLanguage?: string): Promise<{ browser: Browser; page: Page; action: string; fields: Record<string, string> }> {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config);
  const browser = new Browser({ acceptLanguage });
  const page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  const form = forms(page).find((f) => f.action.endsWith('/login'))!;
  expect(form).toBeDefined();
  return { browser, page, action: new URL(form.action, page.url).href, fields: form.fields };
}

describe('interaction routes refuse bad input', () => {
  it('an unknown interaction uid gives a 400 page, not a crash', async () => {
    const page = await new Browser().request(`${broker.issuer}/interaction/does-not-exist`);
    expect(page.status).toBe(400);
    expect(page.body).toContain('interaction_expired');
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
  });

  it('an interaction whose cookie is missing (another browser) is refused', async () => {
    const { page } = await atLoginForm();
    const stranger = await new Browser().request(page.url);
    expect(stranger.status).toBe(400);
    expect(stranger.body).toContain('interaction_expired');
  });

  it('an expired interaction is refused', async () => {
    const { browser, page, action, fields } = await atLoginForm();
    const uid = new URL(page.url).pathname.split('/')[2]!;
    await broker.store.delete(`oidc:{oidc}:Interaction:${uid}`);
    const answer = await browser.request(action, { form: { ...fields, username: TEST_USER.username, password: TEST_USER.password } });
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('interaction_expired');
  });

  it('a wrong password gives a generic message and an audit event without the password', async () => {
    const { browser, action, fields } = await atLoginForm();
    const answer = await browser.request(action, { form: { ...fields, username: TEST_USER.username, password: 'wrong-password-123' } });
    expect(answer.status).toBe(401);
    expect(answer.body).toContain('The username or password is not correct.');
    const unknownUser = await browser.request(action, { form: { ...fields, username: 'mallory', password: 'wrong-password-123' } });
    expect(unknownUser.status).toBe(401);
    expect(unknownUser.body).toContain('The username or password is not correct.');
    const failures = broker.audit.filter((e) => e.event === 'login.failure' && e.reason === 'invalid_credentials');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]).toMatchObject({ outcome: 'failure', clientId: TEST_CLIENT.clientId, connectorId: 'local' });
    expect(JSON.stringify(broker.audit)).not.toContain('wrong-password-123');
  });

  it('missing form fields give a 400 form with a message', async () => {
    const { browser, action, fields } = await atLoginForm();
    const answer = await browser.request(action, { form: { ...fields, username: TEST_USER.username } });
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('Please fill in every field.');
  });

  it('a missing or wrong CSRF token is refused with 403', async () => {
    const { browser, action, fields } = await atLoginForm();
    const { csrf: _csrf, ...withoutCsrf } = fields;
    const missing = await browser.request(action, { form: { ...withoutCsrf, username: TEST_USER.username, password: TEST_USER.password } });
    expect(missing.status).toBe(403);
    const wrong = await browser.request(action, { form: { ...fields, csrf: 'forged', username: TEST_USER.username, password: TEST_USER.password } });
    expect(wrong.status).toBe(403);
    expect(broker.audit.some((e) => e.event === 'login.success' && e.requestId === wrong.headers.get('x-request-id'))).toBe(false);
  });

  it('an oversized body is refused with 413', async () => {
    const { browser, action, fields } = await atLoginForm();
    const answer = await browser.request(action, { form: { ...fields, username: 'a'.repeat(64 * 1024), password: 'x' } });
    expect(answer.status).toBe(413);
    expect(answer.body).toContain('too large');
  });

  it('a body that is not a form is refused', async () => {
    const { browser, action } = await atLoginForm();
    const answer = await browser.request(action, { body: '{"username":"alice"}', headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(415);
  });

  it('a connector the client may not use is refused', async () => {
    const { browser, page, fields } = await atLoginForm();
    const uid = new URL(page.url).pathname.split('/')[2]!;
    const answer = await browser.request(`${broker.issuer}/interaction/${uid}/choose`, { form: { csrf: fields.csrf!, connector: 'nope' } });
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('unknown_provider');
  });

  it('after all that, the same interaction still signs in with the right password', async () => {
    const { browser, action, fields } = await atLoginForm();
    await browser.request(action, { form: { ...fields, username: TEST_USER.username, password: 'nope-nope' } });
    const answer = await browser.request(action, { form: { ...fields, username: TEST_USER.username, password: TEST_USER.password } });
    expect(answer.status).toBe(303);
  });
});

describe('callback input', () => {
  it('a callback for an unknown connector, or one that takes no redirects, is 404', async () => {
    const page = await new Browser().request(`${broker.issuer}/callback/local?state=${'a'.repeat(43)}&code=x`);
    expect(page.status).toBe(404);
    const oidcLike = await new Browser().request(`${broker.issuer}/callback/nope?state=x`);
    expect(oidcLike.status).toBe(404);
  });
});

describe('pages', () => {
  it('speak Simplified Chinese when the browser prefers it', async () => {
    const { page } = await atLoginForm('zh-CN,zh;q=0.9,en;q=0.8');
    expect(page.body).toContain('<html lang="zh-CN">');
    expect(page.body).toContain('密码');
    expect(page.headers.get('content-language')).toBe('zh-CN');
  });

  it('carry a CSP whose nonce matches the inline style, and no-store caching', async () => {
    const { page } = await atLoginForm();
    const csp = page.headers.get('content-security-policy')!;
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(page.body).toContain(`<style nonce="${nonce}">`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('cache-control')).toContain('no-store');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('escape user input (no HTML injection through the username field)', async () => {
    const { browser, action, fields } = await atLoginForm();
    const answer = await browser.request(action, { form: { ...fields, username: '"><script>alert(1)</script>', password: 'x'.repeat(10) } });
    expect(answer.body).not.toContain('<script>alert(1)</script>');
    expect(answer.body).toContain('&lt;script&gt;');
  });

  it('give 404 for unknown paths', async () => {
    const page = await new Browser().request(`${broker.issuer}/nope`);
    expect(page.status).toBe(404);
  });
});

describe('health', () => {
  it('/healthz and /readyz answer', async () => {
    expect((await fetch(`${broker.issuer}/healthz`)).status).toBe(200);
    const ready = await fetch(`${broker.issuer}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', store: 'memory' });
  });
});

describe('password guessing', () => {
  it('refuses even the right password after 10 failures for that username, with 429 and an audit event', async () => {
    // The throttle alone: the risk engine's smart lockout (tested in test/risk) would lock this browser's origin after 5 failures first.
    const solo = await startBroker({ config: { risk: { lockout: { maxFailures: 1000 } } } });
    try {
      const config = await discoverRp(solo.issuer);
      const browser = new Browser();
      const page = await browser.follow((await authorizationRequest(config)).url.href, {}, TEST_CLIENT.redirectUri);
      const form = forms(page).find((f) => f.action.endsWith('/login'))!;
      const action = new URL(form.action, page.url).href;
      for (let i = 0; i < 10; i++) {
        const wrong = await browser.request(action, { form: { ...form.fields, username: TEST_USER.username, password: `guess-${i}-xyz` } });
        expect(wrong.status).toBe(401);
      }
      const right = await browser.request(action, { form: { ...form.fields, username: TEST_USER.username.toUpperCase(), password: TEST_USER.password } });
      expect(right.status).toBe(429);
      expect(right.headers.get('retry-after')).toBe('900');
      expect(right.body).toContain('Too many failed attempts');
      expect(solo.audit.some((e) => e.event === 'login.failure' && e.reason === 'throttled')).toBe(true);
      expect(solo.audit.some((e) => e.event === 'login.success')).toBe(false);
    } finally {
      await solo.close();
    }
  });
});
