// The step-up pages over real HTTP: a passkey registered and used with a software authenticator, recovery codes used once, and forged, malformed and oversized answers refused; memory store and Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA, ACR_PHISHING_RESISTANT } from '../../src/mfa/assurance.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { Browser, forms, type Page } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import type { RpClient } from '../helpers/rp.js';
import { atFactorPage, authorize, daysOffToday, enrolTotp, exchange, hasForm, localAccountId, localAccounts, submitPassword, totpCode, untilClient, type Authorization } from '../helpers/step-up.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';
import { createSoftwareAuthenticator } from '../helpers/webauthn-authenticator.js';

const MFA_CLIENT: RpClient = { clientId: 'payroll', clientSecret: 'payroll-secret-0123456789abcdefghijklmnop', redirectUri: 'http://127.0.0.1:1/payroll-cb' };
const OFFICE = { 'x-forwarded-for': '10.20.30.40' };
const ELSEWHERE = { 'x-forwarded-for': '198.51.100.7' };

const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The passkey options the page hands to its script (data-options on the form). */
function passkeyOptions<T>(page: Page): T {
  const raw = /data-options="([^"]*)"/.exec(page.body)?.[1];
  if (!raw) throw new Error(`no passkey options on ${page.url}: ${page.body.slice(0, 300)}`);
  return JSON.parse(decode(raw)) as T;
}

describe.each(STORE_BACKENDS)('step-up pages on the %s store', (_name, openStore) => {
  let broker: TestBroker;
  let store: KeyValueStore;

  beforeAll(async () => {
    store = await openStore();
    broker = await startBroker({
      store,
      providers: [await localAccounts(['keyholder', 'coder', 'prober', 'revoked'])],
      config: {
        trustProxy: ['127.0.0.1'],
        clients: [
          { clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], skipConsent: true },
          { clientId: MFA_CLIENT.clientId, clientSecret: MFA_CLIENT.clientSecret, redirectUris: [MFA_CLIENT.redirectUri], skipConsent: true, risk: { minAcr: ACR_MFA } },
        ],
        // Elsewhere (untrusted) + a new device + off-hours: medium.
        risk: { networks: { trusted: ['10.0.0.0/8'] }, workingHours: { timeZone: 'UTC', days: daysOffToday(), start: '08:00', end: '19:00' } },
      },
    });
  });

  afterAll(async () => {
    await broker?.close();
    await closeTestStore(store);
  });

  const authenticator = () => createSoftwareAuthenticator({ origin: broker.issuer });

  async function atStepUp(username: string, client: RpClient, headers: Record<string, string>, params: Record<string, string> = {}): Promise<{ auth: Authorization; page: Page }> {
    const auth = await authorize(broker.issuer, new Browser({ headers }), client, params);
    return { auth, page: await submitPassword(auth, auth.page, username) };
  }

  it('registers a passkey at enrolment and signs in with it at a later step-up: acr phishing-resistant, amr hwk; a forged assertion is refused', async () => {
    const key = authenticator();
    const first = await atStepUp('keyholder', MFA_CLIENT, OFFICE);
    expect(first.page.body).toContain('src="/assets/webauthn.js"');
    const creation = passkeyOptions<Parameters<typeof key.register>[0]>(first.page);
    expect(creation.rp.id).toBe('127.0.0.1');
    const codesPage = await first.auth.browser.submit(first.page, '/mfa/enrol/webauthn', { response: JSON.stringify(key.register(creation)) }, MFA_CLIENT.redirectUri);
    expect(codesPage.body).toContain('recovery-codes');
    const enrolled = await exchange(first.auth, await untilClient(first.auth, await first.auth.browser.submit(codesPage, '/mfa/continue', {}, MFA_CLIENT.redirectUri)));
    expect(enrolled.claims()).toMatchObject({ acr: ACR_PHISHING_RESISTANT, amr: expect.arrayContaining(['pwd', 'hwk', 'mfa']) });

    // Medium risk (an untrusted network, a new device) on another browser: the factor page offers the passkey.
    const later = await atStepUp('keyholder', TEST_CLIENT, ELSEWHERE);
    expect(atFactorPage(later.page)).toBe(true);
    const request = passkeyOptions<Parameters<typeof key.assert>[0]>(later.page);
    const forged = await later.auth.browser.submit(later.page, '/mfa/webauthn', { response: JSON.stringify(key.assert(request, { forgeSignature: true })) }, TEST_CLIENT.redirectUri);
    expect(forged.status).toBe(401);
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'mfa.verified', outcome: 'failure', reason: 'invalid', details: { kind: 'webauthn' }, accountId: localAccountId('keyholder') }));
    const retry = passkeyOptions<Parameters<typeof key.assert>[0]>(forged);
    const done = await later.auth.browser.submit(forged, '/mfa/webauthn', { response: JSON.stringify(key.assert(retry)) }, TEST_CLIENT.redirectUri);
    const tokens = await exchange(later.auth, await untilClient(later.auth, done));
    expect(tokens.claims()).toMatchObject({ acr: ACR_PHISHING_RESISTANT, amr: expect.arrayContaining(['pwd', 'hwk', 'mfa']) });
  });

  it('a client asking for the phishing-resistant acr on a TOTP session gets the factor page again, not a password prompt', async () => {
    const secret = await enrolTotp(broker, localAccountId('coder'));
    const first = await atStepUp('coder', MFA_CLIENT, OFFICE);
    const done = await first.auth.browser.submit(first.page, '/mfa/totp', { code: totpCode(secret) }, MFA_CLIENT.redirectUri);
    expect((await exchange(first.auth, await untilClient(first.auth, done))).claims()?.acr).toBe(ACR_MFA);
    const stronger = await authorize(broker.issuer, first.auth.browser, MFA_CLIENT, { acr_values: ACR_PHISHING_RESISTANT });
    expect(atFactorPage(stronger.page)).toBe(true);
    expect(stronger.page.body).not.toContain('name="password"');
    const silent = await authorize(broker.issuer, first.auth.browser, MFA_CLIENT, { acr_values: ACR_PHISHING_RESISTANT, prompt: 'none' });
    expect(new URL(silent.page.url).searchParams.get('error')).toBe('interaction_required');
  });

  it('a session ended elsewhere while its factor page is open: the right code is refused, no code is issued', async () => {
    const secret = await enrolTotp(broker, localAccountId('revoked'));
    const first = await atStepUp('revoked', MFA_CLIENT, OFFICE);
    expect(atFactorPage(first.page)).toBe(true);
    // Ended from elsewhere (the admin command line, or a logout reaching this session) before the code is typed.
    const [session] = await broker.app.broker.sessions.byUpstreamSubject('local', 'revoked');
    expect(session).toBeDefined();
    await broker.app.broker.terminate(session!, 'admin_revoked');
    const answered = await first.auth.browser.submit(first.page, '/mfa/totp', { code: totpCode(secret) }, MFA_CLIENT.redirectUri);
    expect(answered.status).toBe(400);
    expect(answered.body).not.toContain('code=');
    expect(answered.url.startsWith(MFA_CLIENT.redirectUri)).toBe(false);
  });

  it('a recovery code works once; malformed, oversized and cross-site answers are refused with a safe page and audited', async () => {
    const first = await atStepUp('prober', MFA_CLIENT, OFFICE);
    const secret = /data-totp-secret="([A-Z2-7]+)"/.exec(first.page.body)![1]!;
    const codesPage = await first.auth.browser.submit(first.page, '/mfa/enrol/totp', { code: totpCode(secret) }, MFA_CLIENT.redirectUri);
    const codes = [...codesPage.body.matchAll(/<li><code>([0-9A-Z-]+)<\/code><\/li>/g)].map((match) => match[1]!);
    await untilClient(first.auth, await first.auth.browser.submit(codesPage, '/mfa/continue', {}, MFA_CLIENT.redirectUri));

    const second = await atStepUp('prober', TEST_CLIENT, ELSEWHERE);
    expect(hasForm(second.page, '/mfa/recovery')).toBe(true);
    const form = forms(second.page).find((f) => f.action.endsWith('/mfa/totp'))!;
    const url = new URL(form.action, second.page.url).href;
    const noCsrf = await second.auth.browser.request(url, { form: { code: '123456' } });
    expect(noCsrf.status).toBe(403);
    const malformed = await second.auth.browser.request(url, { form: { ...form.fields, code: 'abc<script>' } });
    expect(malformed.status).toBe(401);
    expect(malformed.body).not.toContain('abc<script>');
    const oversized = await second.auth.browser.request(url, { form: { ...form.fields, code: '1'.repeat(64 * 1024) } });
    expect(oversized.status).toBe(413);
    const garbage = await second.auth.browser.request(url.replace('/mfa/totp', '/mfa/webauthn'), { form: { ...form.fields, response: '{"id":' } });
    expect(garbage.status).toBe(401);
    const crossSite = await new Browser().request(url, { form: { ...form.fields, code: totpCode(secret) } });
    expect(crossSite.status).toBe(400);
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'mfa.verified', outcome: 'failure', reason: 'malformed', accountId: localAccountId('prober') }));

    const used = await second.auth.browser.submit(second.page, '/mfa/recovery', { code: codes[0]! }, TEST_CLIENT.redirectUri);
    const tokens = await exchange(second.auth, await untilClient(second.auth, used));
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: expect.arrayContaining(['otp', 'mfa']) });

    const third = await atStepUp('prober', TEST_CLIENT, ELSEWHERE);
    const again = await third.auth.browser.submit(third.page, '/mfa/recovery', { code: codes[0]! }, TEST_CLIENT.redirectUri);
    expect(again.status).toBe(401);
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'mfa.verified', outcome: 'failure', reason: 'replayed', details: { kind: 'recovery' } }));
  });
});
