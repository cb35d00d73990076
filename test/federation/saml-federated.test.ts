// Federated SAML end to end: openid-client RP -> broker -> demo samlify IdP (Redirect and POST bindings, encrypted) -> ID token.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountIdFor } from '../../src/connectors/claims.js';
import { isSamlServiceProvider } from '../../src/connectors/saml.js';
import { startDemoUpstreamSaml } from '../../src/demo/upstream-saml.js';
import { Browser, forms, type Page } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';

type Demo = Awaited<ReturnType<typeof startDemoUpstreamSaml>>;
let broker: TestBroker;
const demos: Demo[] = [];

const spMetadataOf = (id: string) => async () => {
  const connector = broker.app.broker.connectors.get(id)!;
  if (!isSamlServiceProvider(connector)) throw new Error('not a SAML connector');
  return connector.spMetadata();
};

beforeAll(async () => {
  const port = await freeLoopbackPort();
  const brokerIssuer = `http://127.0.0.1:${port}`;
  const redirect = await startDemoUpstreamSaml({ port: 0, brokerIssuer, connectorId: 'saml-redirect', spMetadata: spMetadataOf('saml-redirect') });
  const post = await startDemoUpstreamSaml({ port: 0, brokerIssuer, connectorId: 'saml-post', encryptAssertions: true, spMetadata: spMetadataOf('saml-post') });
  demos.push(redirect, post);
  broker = await startBroker({
    port,
    providers: [
      { ...redirect.providerFile, config: { ...redirect.providerFile.config, schemaValidation: 'off', claims: { groupPrefix: 'saml:', static: { emailVerified: true } } } },
      { ...post.providerFile, domains: ['post.demo'], config: { ...post.providerFile.config, schemaValidation: 'off', authnRequestBinding: 'post', requireEncryptedAssertions: true } },
    ],
  });
});

afterAll(async () => {
  await broker?.close();
  await Promise.all(demos.map((d) => d.close()));
});

/** RP -> broker -> IdP login page. */
async function toIdp(connector: string, browser = new Browser()) {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config, TEST_CLIENT, { idp_hint: connector });
  let page = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  if (forms(page).some((f) => f.fields.SAMLRequest)) page = await browser.submit(page, '/sso');
  return { config, request, browser, page };
}

/** Signs in at the demo IdP and stops at the auto-POST page that targets the broker ACS. */
async function idpLogin(browser: Browser, page: Page, username = 'sam', password = 'sam-demo-password'): Promise<Page> {
  return browser.submit(page, '/login', { username, password });
}

describe.each([
  ['saml-redirect', 'HTTP-Redirect AuthnRequest, signed assertion'],
  ['saml-post', 'HTTP-POST AuthnRequest, encrypted assertion'],
])('%s (%s)', (connectorId) => {
  let claims: oidc.IDToken;
  let acsPage: Page;

  beforeAll(async () => {
    const { config, request, browser, page } = await toIdp(connectorId);
    expect(page.body).toContain('Demo SAML IdP');
    acsPage = await idpLogin(browser, page);
    const atRp = await browser.submit(acsPage, `/callback/${connectorId}`, {}, TEST_CLIENT.redirectUri);
    const rpCallback = await completeLogin(browser, atRp, TEST_CLIENT.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(config, rpCallback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
      idTokenExpected: true,
    });
    claims = tokens.claims()!;
  });

  it('the IdP posted a SAMLResponse and the RelayState to the per-connector ACS', () => {
    const form = forms(acsPage).find((f) => f.action.endsWith(`/callback/${connectorId}`))!;
    expect(form.fields.SAMLResponse).toBeTruthy();
    expect(form.fields.RelayState).toBeTruthy();
    const xml = Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8');
    expect(xml.includes('EncryptedAssertion')).toBe(connectorId === 'saml-post');
  });

  it('the broker ID token carries the mapped SAML claims', () => {
    expect(claims.iss).toBe(broker.issuer);
    expect(claims.sub).toBe(accountIdFor(connectorId, 'sam'));
    expect(claims.email).toBe('sam@saml.demo');
    expect(claims.name).toBe('Sam L. Demo');
    expect(claims.groups).toEqual(connectorId === 'saml-redirect' ? ['saml:saml-users', 'saml:admins'] : ['saml-users', 'admins']);
    expect(claims.amr).toEqual(['pwd']);
  });

  it('records login.success for the connector', () => {
    expect(broker.audit.some((e) => e.event === 'login.success' && e.connectorId === connectorId)).toBe(true);
  });
});

describe('rejections end to end', () => {
  it('a replayed SAMLResponse is refused with an error page, an audit event and no session', async () => {
    const { browser, page } = await toIdp('saml-redirect');
    const acs = await idpLogin(browser, page);
    const form = forms(acs).find((f) => f.action.includes('/callback/saml-redirect'))!;
    await browser.submit(acs, '/callback/saml-redirect', {}, TEST_CLIENT.redirectUri);
    // Replay the same response in a new login (fresh transaction, RelayState of the new login).
    const second = await toIdp('saml-redirect');
    const relayState = new URL(second.page.url).searchParams.get('RelayState') ?? '';
    expect(relayState).not.toBe('');
    const before = broker.audit.length;
    const replay = await second.browser.request(form.action, { form: { SAMLResponse: form.fields.SAMLResponse!, RelayState: relayState } });
    expect(replay.status).toBeGreaterThanOrEqual(400);
    const rejected = broker.audit.slice(before).find((e) => e.event === 'upstream.callback.rejected');
    expect(rejected?.reason).toMatch(/^saml_(in_response_to_mismatch|replay)$/);
    expect(broker.audit.slice(before).some((e) => e.event === 'login.success')).toBe(false);
  });

  it('a tampered NameID (comment injection) is refused with saml_xml_comment and audited', async () => {
    const { browser, page } = await toIdp('saml-redirect');
    const acs = await idpLogin(browser, page);
    const form = forms(acs).find((f) => f.action.includes('/callback/saml-redirect'))!;
    const xml = Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8').replace('>sam</saml:NameID>', '>s<!---->am</saml:NameID>');
    const before = broker.audit.length;
    const result = await browser.request(form.action, { form: { SAMLResponse: Buffer.from(xml).toString('base64'), RelayState: form.fields.RelayState! } });
    expect(result.status).toBe(400);
    expect(broker.audit.slice(before).find((e) => e.event === 'upstream.callback.rejected')?.reason).toBe('saml_xml_comment');
    expect(broker.audit.slice(before).some((e) => e.event === 'login.success')).toBe(false);
  });
});

describe('a SAML response that answers no transaction', () => {
  it('is refused as unsolicited (IdP-initiated login is off), audited, and creates no session', async () => {
    const { browser, page } = await toIdp('saml-redirect');
    const autoPost = await idpLogin(browser, page);
    const form = forms(autoPost).find((f) => f.fields.SAMLResponse)!;
    expect(form).toBeDefined();
    const before = broker.audit.filter((e) => e.event === 'login.success').length;
    const answer = await new Browser().request(new URL(form.action, autoPost.url).href, { form: { SAMLResponse: form.fields.SAMLResponse! } });
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('saml_unsolicited');
    expect(broker.audit.some((e) => e.event === 'upstream.callback.rejected' && e.reason === 'saml_unsolicited')).toBe(true);
    expect(broker.audit.filter((e) => e.event === 'login.success').length).toBe(before);
  });
});
