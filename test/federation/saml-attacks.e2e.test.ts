// The SAML attack suite end to end: forged messages posted to the broker during real logins are refused, audited, and create no session.
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSamlServiceProvider } from '../../src/connectors/saml.js';
import { authnRequestFromRedirect, requestIdOf } from '../connectors/saml-setup.js';
import { Browser, forms, type Page } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, discoverRp } from '../helpers/rp.js';
import { VICTIM_NAMEID, addSecondAssertion, stripSignature, wrapLogoutRequest, wrapSignature, type XSW } from '../helpers/saml-forgery.js';
import { ATTACKER_CERT, ATTACKER_KEY, SP_CERT, SP_KEY, STATUS, TestIdp, b64, type ResponseOptions } from '../helpers/upstream-saml.js';

/** The three SAML connectors under attack: the default policy, a Response-signature policy (XSW1-2), and XSD validation on. */
const CONNECTORS = {
  default: { id: 'acme-saml', config: {} },
  responseSigned: { id: 'acme-saml-rsig', config: { signaturePolicy: 'response' } },
  schema: { id: 'acme-saml-xsd', config: { schemaValidation: 'worker' } },
} as const;
type ConnectorKey = keyof typeof CONNECTORS;

const IDP_SSO = 'https://idp.example.test/sso';
const IDP_SLO = 'https://idp.example.test/slo';
/** NameIDs an attack could try to sign in as (besides the login's own). */
const FORGED_SUBJECTS = [VICTIM_NAMEID, 'admin@good.com', 'admin@good.com.evil.com'];

let broker: TestBroker;
let rp: Awaited<ReturnType<typeof discoverRp>>;
const idps = new Map<ConnectorKey, TestIdp>();
let users = 0;

beforeAll(async () => {
  broker = await startBroker({
    providers: Object.values(CONNECTORS).map(({ id, config }) => ({
      id,
      type: 'saml' as const,
      name: `ACME SAML (${id})`,
      config: { idp: { metadataXml: TestIdp.metadata() }, sp: { signingKey: SP_KEY, signingCert: SP_CERT }, schemaValidation: 'off', ...config },
    })),
  });
  for (const [key, { id }] of Object.entries(CONNECTORS) as Array<[ConnectorKey, { id: string }]>) {
    const connector = broker.app.broker.connectors.get(id)!;
    if (!isSamlServiceProvider(connector)) throw new Error(`${id} is not a SAML connector`);
    idps.set(key, new TestIdp(connector.spMetadata()));
  }
  rp = await discoverRp(broker.issuer);
});

afterAll(async () => {
  await broker?.close();
});

interface Login {
  key: ConnectorKey;
  connectorId: string;
  browser: Browser;
  uid: string;
  relayState: string;
  requestId: string;
  nameId: string;
  acsUrl: string;
  /** A genuine Response from the IdP answering this login (signed as the connector's policy wants), with overrides. */
  respond(options?: ResponseOptions): Promise<string>;
}

/** RP -> broker /auth -> interaction -> HTTP-Redirect AuthnRequest to the IdP; captures the request ID and RelayState. */
async function startLogin(key: ConnectorKey = 'default', nameId = `user-${++users}`): Promise<Login> {
  const connectorId = CONNECTORS[key].id;
  const request = await authorizationRequest(rp, TEST_CLIENT, { idp_hint: connectorId });
  const browser = new Browser();
  const atIdp = await browser.follow(request.url.href, {}, IDP_SSO);
  const url = new URL(atIdp.url);
  expect(`${url.origin}${url.pathname}`).toBe(IDP_SSO);
  const relayState = url.searchParams.get('RelayState') ?? '';
  expect(relayState).not.toBe('');
  const requestId = requestIdOf(authnRequestFromRedirect(atIdp.url));
  const uid = browser.history.map((h) => /\/interaction\/([^/?#]+)$/.exec(new URL(h).pathname)?.[1]).find(Boolean);
  expect(uid).toBeTruthy();
  const acsUrl = `${broker.issuer}/callback/${connectorId}`;
  const spEntityId = `${broker.issuer}/saml/${connectorId}/metadata`;
  const sign = key === 'responseSigned' ? 'response' : 'assertion';
  return {
    key,
    connectorId,
    browser,
    uid: uid!,
    relayState,
    requestId,
    nameId,
    acsUrl,
    respond: (options = {}) => idps.get(key)!.responseXml({ inResponseTo: requestId, nameId, sign, ...options }, acsUrl, spEntityId),
  };
}

const post = (login: Login, fields: Record<string, string>): Promise<Page> => login.browser.request(login.acsUrl, { form: fields });
const acsForm = (login: Login, xml: string): Record<string, string> => ({ SAMLResponse: b64(xml), RelayState: login.relayState });

/** A login that goes all the way through the ACS (the genuine Response is accepted). */
async function signIn(key: ConnectorKey, options: ResponseOptions = {}): Promise<{ login: Login; xml: string }> {
  const login = await startLogin(key, options.nameId);
  const xml = await login.respond(options);
  const page = await post(login, acsForm(login, xml));
  // The ACS verifies, then the login completes on a same-site GET in the browser that started it.
  expect(page.status).toBe(303);
  const completion = page.headers.get('location') ?? '';
  expect(completion).toMatch(new RegExp(`^/callback/${login.connectorId}/complete\\?login=[A-Za-z0-9_-]{43}$`));
  const completed = await login.browser.request(`${broker.issuer}${completion}`);
  expect(completed.status).toBe(303);
  expect(completed.headers.get('location')).toBe(`/interaction/${login.uid}/finish`);
  return { login, xml };
}

async function sessionCount(connectorId: string, subjects: string[]): Promise<number> {
  const found = await Promise.all(subjects.map((s) => broker.app.broker.sessions.byUpstreamSubject(connectorId, s)));
  return found.reduce((n, list) => n + list.length, 0);
}

interface Forged {
  fields: Record<string, string>;
  /** GET (query) instead of a POSTed form. */
  method?: 'GET';
}

interface Attack {
  name: string;
  status: number;
  code: string;
  connector?: ConnectorKey;
  forge(login: Login): Promise<Forged>;
}

const forgeXml = (build: (login: Login) => Promise<string>) => async (login: Login): Promise<Forged> => ({ fields: acsForm(login, await build(login)) });
const xsw = (variant: keyof typeof XSW, code: string, connector: ConnectorKey = 'default'): Attack => ({
  name: `${variant} signature wrapping${connector === 'schema' ? ' (schema validation on)' : ''}`,
  status: 400,
  code,
  connector,
  forge: forgeXml(async (login) => {
    const forged = wrapSignature(await login.respond(), variant);
    expect(forged).toContain(VICTIM_NAMEID);
    return forged;
  }),
});

const ACS_ATTACKS: Attack[] = [
  xsw('XSW1', 'saml_multiple_assertions', 'responseSigned'),
  xsw('XSW2', 'saml_multiple_assertions', 'responseSigned'),
  xsw('XSW3', 'saml_multiple_assertions'),
  xsw('XSW4', 'saml_multiple_assertions'),
  xsw('XSW5', 'saml_signature_wrapping'),
  xsw('XSW6', 'saml_multiple_assertions'),
  xsw('XSW7', 'saml_multiple_assertions'),
  xsw('XSW8', 'saml_signature_wrapping'),
  xsw('XSW8', 'saml_signature_wrapping', 'schema'),
  { name: 'a second, unsigned assertion next to the signed one', status: 400, code: 'saml_multiple_assertions', forge: forgeXml(async (l) => addSecondAssertion(await l.respond())) },
  { name: 'signature stripped', status: 400, code: 'saml_signature_missing', forge: forgeXml(async (l) => stripSignature(await l.respond())) },
  {
    name: 'signed by another key (its certificate in KeyInfo)',
    status: 400,
    code: 'saml_signature_invalid',
    forge: forgeXml((l) => l.respond({ signingKey: { key: ATTACKER_KEY, cert: ATTACKER_CERT } })),
  },
  { name: 'signed only at the Response level (the Assertion must be signed)', status: 400, code: 'saml_signature_missing', forge: forgeXml((l) => l.respond({ sign: 'response' })) },
  { name: 'RSA-SHA1 signature', status: 400, code: 'saml_signature_algorithm', forge: forgeXml((l) => l.respond({ sha1: true })) },
  {
    name: 'NameID comment injection (admin@good.com<!---->.evil.com)',
    status: 400,
    code: 'saml_xml_comment',
    forge: forgeXml(async (l) => {
      const forged = (await l.respond({ nameId: 'admin@good.com.evil.com' })).replace('admin@good.com.evil.com', 'admin@good.com<!---->.evil.com');
      expect(forged).toContain('<!---->');
      return forged;
    }),
  },
  {
    name: 'XXE (external entity in a DTD)',
    status: 400,
    code: 'saml_dtd_forbidden',
    forge: forgeXml(async (l) => `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${(await l.respond()).replace(l.nameId, '&x;')}`),
  },
  {
    name: 'internal DTD (billion laughs)',
    status: 400,
    code: 'saml_dtd_forbidden',
    forge: forgeXml(async (l) => `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>${await l.respond()}`),
  },
  {
    name: 'assertion replay: a captured Response posted into a new login',
    status: 400,
    code: 'saml_in_response_to_mismatch',
    forge: async (login) => {
      const { xml } = await signIn(login.key, { nameId: login.nameId });
      return { fields: acsForm(login, xml) };
    },
  },
  {
    name: 'assertion replay: an already used Assertion ID answering a new login',
    status: 400,
    code: 'saml_replay',
    forge: async (login) => {
      const assertionId = `_replayed-${login.nameId}`;
      await signIn(login.key, { nameId: login.nameId, assertionId });
      return { fields: acsForm(login, await login.respond({ assertionId })) };
    },
  },
  { name: 'wrong Destination', status: 400, code: 'saml_destination_mismatch', forge: forgeXml((l) => l.respond({ destination: 'https://evil.example/acs' })) },
  { name: 'wrong Audience', status: 400, code: 'saml_audience_mismatch', forge: forgeXml((l) => l.respond({ audience: 'https://other-sp.example' })) },
  { name: 'wrong Recipient', status: 400, code: 'saml_recipient_mismatch', forge: forgeXml((l) => l.respond({ recipient: 'https://evil.example/acs' })) },
  { name: 'wrong Issuer', status: 400, code: 'saml_issuer_mismatch', forge: forgeXml((l) => l.respond({ issuer: 'https://evil-idp.example' })) },
  {
    name: 'expired (beyond the 2-minute clock skew)',
    status: 400,
    code: 'saml_expired',
    forge: forgeXml((l) => l.respond({ scdNotOnOrAfter: Date.now() - 5 * 60_000, notOnOrAfter: Date.now() - 5 * 60_000 })),
  },
  { name: 'not yet valid', status: 400, code: 'saml_not_yet_valid', forge: forgeXml((l) => l.respond({ notBefore: Date.now() + 10 * 60_000 })) },
  { name: 'InResponseTo of another request', status: 400, code: 'saml_in_response_to_mismatch', forge: forgeXml((l) => l.respond({ inResponseTo: '_another-request' })) },
  {
    name: 'unsolicited Response (no InResponseTo) posted with a live RelayState',
    status: 400,
    code: 'saml_unsolicited',
    forge: forgeXml((l) => l.respond({ inResponseTo: undefined })),
  },
  {
    name: 'unsolicited Response without RelayState (IdP-initiated login is off)',
    status: 400,
    code: 'saml_unsolicited',
    forge: async (l) => ({ fields: { SAMLResponse: b64(await l.respond({ inResponseTo: undefined })) } }),
  },
  {
    name: 'status Responder/AuthnFailed',
    status: 401,
    code: 'saml_authn_failed',
    forge: forgeXml((l) => l.respond({ status: STATUS('Responder'), subStatus: STATUS('AuthnFailed'), sign: 'response' })),
  },
  { name: 'malformed base64', status: 400, code: 'saml_malformed_base64', forge: async (l) => ({ fields: { SAMLResponse: 'PHNhbWxwOl!!!not-base64', RelayState: l.relayState } }) },
  {
    name: 'deflate bomb on the HTTP-Redirect binding (the ACS is POST-only and never inflates)',
    status: 405,
    code: 'saml_binding_unsupported',
    forge: async (l) => ({ method: 'GET', fields: { SAMLResponse: deflateRawSync(Buffer.alloc(4 * 1024 * 1024, 0x20)).toString('base64'), RelayState: l.relayState } }),
  },
  {
    name: 'a body over 1 MB',
    status: 413,
    code: 'payload_too_large',
    forge: forgeXml(async (l) => (await l.respond()).replace('</samlp:Response>', `<samlp:Extensions>${'A'.repeat(1024 * 1024)}</samlp:Extensions></samlp:Response>`)),
  },
];

describe('genuine responses sign in (the control for every rejection below)', () => {
  it.each(Object.keys(CONNECTORS) as ConnectorKey[])('%s: session, login.success, and the interaction finishes', async (key) => {
    const before = broker.audit.length;
    const { login } = await signIn(key);
    expect(broker.audit.slice(before).some((e) => e.event === 'login.success' && e.connectorId === login.connectorId)).toBe(true);
    expect(await sessionCount(login.connectorId, [login.nameId])).toBe(1);
    const finish = await login.browser.request(`${broker.issuer}/interaction/${login.uid}/finish`);
    expect(finish.status).toBe(303);
  });
});

describe('ACS /callback/<connectorId>: each attack is refused with a clear error, audited, and creates no session', () => {
  it.each(ACS_ATTACKS)('$name -> $status $code', async (attack) => {
    const login = await startLogin(attack.connector ?? 'default');
    const forged = await attack.forge(login);
    const subjects = [login.nameId, ...FORGED_SUBJECTS];
    const sessionsBefore = await sessionCount(login.connectorId, subjects);
    const before = broker.audit.length;

    const page =
      forged.method === 'GET' ? await login.browser.request(`${login.acsUrl}?${new URLSearchParams(forged.fields)}`) : await post(login, forged.fields);

    expect(page.status).toBe(attack.status);
    expect(page.body).toContain(attack.code);
    expect(page.headers.get('location')).toBeNull();
    const events = broker.audit.slice(before);
    expect(events).toContainEqual(expect.objectContaining({ event: 'upstream.callback.rejected', outcome: 'failure', reason: attack.code, connectorId: login.connectorId }));
    expect(events.filter((e) => e.event === 'login.success')).toEqual([]);
    expect(await sessionCount(login.connectorId, subjects)).toBe(sessionsBefore);
    const finish = await login.browser.request(`${broker.issuer}/interaction/${login.uid}/finish`);
    expect(finish.status).toBe(400);
    expect(finish.body).toContain('transaction_not_found');
  });
});

describe('SLO /saml/<connectorId>/slo: forged LogoutRequests end no session', () => {
  const VICTIM = 'victim';
  const connectorId = CONNECTORS.default.id;
  const sloUrl = () => `${broker.issuer}/saml/${connectorId}/slo`;
  const logoutRequest = (o: { sign?: boolean; signingKey?: { key: string; cert: string } } = {}) =>
    idps.get('default')!.logoutRequestXml({ nameId: VICTIM, sessionIndex: '_victim-session', destination: sloUrl(), ...o });

  beforeAll(async () => {
    await signIn('default', { nameId: VICTIM, sessionIndex: '_victim-session' });
    expect(await sessionCount(connectorId, [VICTIM])).toBe(1);
  });

  const SLO_ATTACKS: Array<{ name: string; status: number; code: string; send(): Promise<Page> }> = [
    {
      name: 'unsigned LogoutRequest wrapping a captured signed Assertion (samlify#634)',
      status: 400,
      code: 'saml_signature_wrapping',
      async send() {
        const captured = await idps.get('default')!.responseXml({ nameId: 'attacker', inResponseTo: '_attacker-login' }, `${broker.issuer}/callback/${connectorId}`, `${broker.issuer}/saml/${connectorId}/metadata`);
        return new Browser().request(sloUrl(), { form: { SAMLRequest: b64(wrapLogoutRequest(logoutRequest({ sign: false }), captured)) } });
      },
    },
    { name: 'unsigned LogoutRequest', status: 400, code: 'saml_signature_missing', send: () => new Browser().request(sloUrl(), { form: { SAMLRequest: b64(logoutRequest({ sign: false })) } }) },
    {
      name: 'LogoutRequest signed by another key',
      status: 400,
      code: 'saml_signature_invalid',
      send: () => new Browser().request(sloUrl(), { form: { SAMLRequest: b64(logoutRequest({ signingKey: { key: ATTACKER_KEY, cert: ATTACKER_CERT } })) } }),
    },
    {
      name: 'deflate bomb on the HTTP-Redirect binding (4 MB of spaces in a few KB)',
      status: 413,
      code: 'saml_too_large',
      send() {
        const bomb = deflateRawSync(Buffer.alloc(4 * 1024 * 1024, 0x20)).toString('base64');
        const url = `${sloUrl()}?${new URLSearchParams({ SAMLRequest: bomb })}`;
        expect(url.length).toBeLessThan(16 * 1024);
        return new Browser().request(url);
      },
    },
    { name: 'a body over 1 MB', status: 413, code: 'payload_too_large', send: () => new Browser().request(sloUrl(), { form: { SAMLRequest: 'A'.repeat(1024 * 1024 + 16) } }) },
  ];

  it.each(SLO_ATTACKS)('$name -> $status $code', async (attack) => {
    const before = broker.audit.length;
    const page = await attack.send();
    expect(page.status).toBe(attack.status);
    expect(page.body).toContain(attack.code);
    const events = broker.audit.slice(before);
    expect(events).toContainEqual(expect.objectContaining({ event: 'saml.logout', outcome: 'failure', reason: attack.code, connectorId }));
    expect(events.filter((e) => e.event === 'session.ended')).toEqual([]);
    expect(await sessionCount(connectorId, [VICTIM])).toBe(1);
  });

  it('a genuine signed LogoutRequest does end the victim session (the control)', async () => {
    const before = broker.audit.length;
    const page = await new Browser().request(sloUrl(), { form: { SAMLRequest: b64(logoutRequest()) } });
    // The POST-bound LogoutRequest is answered with an auto-posted, signed LogoutResponse to the IdP.
    expect(page.status).toBe(200);
    const answer = forms(page).find((f) => f.action === IDP_SLO);
    expect(answer?.fields.SAMLResponse).toBeTruthy();
    const requestId = page.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    const events = broker.audit.slice(before);
    expect(events).toContainEqual(expect.objectContaining({ event: 'saml.logout', outcome: 'success', connectorId, requestId, ip: '127.0.0.1' }));
    // The session it ended is audited with the IdP's request: its id and the address it came from.
    expect(events.filter((e) => e.event === 'session.ended')).toEqual([expect.objectContaining({ reason: 'upstream_logout', connectorId, requestId, ip: '127.0.0.1' })]);
    expect(await sessionCount(connectorId, [VICTIM])).toBe(0);
  });
});
