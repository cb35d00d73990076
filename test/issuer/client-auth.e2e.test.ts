// Confidential clients authenticate on every back-channel request (ASVS 10.4.10): a wrong, missing or borrowed secret is invalid_client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_CLIENT, startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { freshCode, OFFLINE, refreshParams, tokenRequest, userinfoStatus } from '../helpers/token-endpoint.js';
import { loginAndExchange } from '../helpers/rp.js';

const OTHER_CLIENT = { clientId: 'other-rp', clientSecret: 'other-rp-secret-0123456789abcdefghijklmno', redirectUri: 'http://127.0.0.1:1/other-cb' };

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker({
    config: {
      authorizationServer: { pushedAuthorizationRequests: { enabled: true } },
      clients: [
        { clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri], postLogoutRedirectUris: [TEST_CLIENT.postLogoutRedirectUri], name: 'Test RP' },
        { clientId: PUBLIC_CLIENT.clientId, public: true, redirectUris: [PUBLIC_CLIENT.redirectUri], skipConsent: true },
        { clientId: OTHER_CLIENT.clientId, clientSecret: OTHER_CLIENT.clientSecret, redirectUris: [OTHER_CLIENT.redirectUri], name: 'Other RP' },
      ],
    },
  });
});
afterAll(async () => broker?.close());

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** One POST to a back-channel endpoint with the given Authorization header (if any) and form; status, headers and JSON as sent. */
async function post(path: string, form: Record<string, string>, authorization?: string) {
  const response = await fetch(`${broker.issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...(authorization ? { authorization } : {}) },
    body: new URLSearchParams(form),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** The ways test-rp can fail to authenticate: the credentials as a header and as extra form fields. */
const BAD_CREDENTIALS: [string, string | undefined, Record<string, string>][] = [
  ['a wrong secret (Basic)', basic(TEST_CLIENT.clientId, 'wrong-secret-0123456789abcdefghijklmnopq'), {}],
  ['a wrong secret (client_secret_post)', undefined, { client_id: TEST_CLIENT.clientId, client_secret: 'wrong-secret-0123456789abcdefghijklmnopq' }],
  ['no secret at all (client_id only)', undefined, { client_id: TEST_CLIENT.clientId }],
  ['another client\'s secret (Basic)', basic(TEST_CLIENT.clientId, OTHER_CLIENT.clientSecret), {}],
  ['another client\'s secret (client_secret_post)', undefined, { client_id: TEST_CLIENT.clientId, client_secret: OTHER_CLIENT.clientSecret }],
  ['the right secret with one character changed', basic(TEST_CLIENT.clientId, `${TEST_CLIENT.clientSecret.slice(0, -1)}X`), {}],
  ['the right secret with a character appended', basic(TEST_CLIENT.clientId, `${TEST_CLIENT.clientSecret}x`), {}],
];

describe('a confidential client that does not prove its secret on a back-channel request (401 invalid_client)', () => {
  it.each(BAD_CREDENTIALS)('%s: 401 invalid_client, and the code is still redeemable once with the right secret', async (_name, authorization, credentials) => {
    const { params } = await freshCode(broker);
    const auditFrom = broker.audit.length;
    const refused = await post('/token', { ...params, ...credentials }, authorization);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    expect(refused.body).not.toHaveProperty('access_token');
    // RFC 6749 section 5.2: a client that tried HTTP Basic is answered with a Basic challenge.
    if (authorization) expect(refused.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+", error="invalid_client"/);
    else expect(refused.headers.get('www-authenticate')).toBeNull();
    // The refusal is audited with its reason, and no secret reaches the audit trail.
    const audited = broker.audit.slice(auditFrom).find((e) => e.event === 'token.issued' && e.outcome === 'failure');
    expect(audited?.reason).toBe('invalid_client');
    expect(JSON.stringify(broker.audit.slice(auditFrom))).not.toMatch(/secret-0123/);
    // oidc-provider authenticates the client before it looks at the grant: the failed attempt did not consume the code.
    const redeemed = await tokenRequest(broker, params);
    expect(redeemed.status).toBe(200);
    expect(redeemed.body.access_token).toBeTruthy();
    expect(await userinfoStatus(broker, redeemed.body.access_token!)).toBe(200);
    // Still single use: a second redemption is refused.
    const replayed = await tokenRequest(broker, params);
    expect(replayed.status).toBe(400);
    expect(replayed.body.error).toBe('invalid_grant');
  });

  it.each<[string, string | undefined, Record<string, string>]>([
    ['an empty secret (Basic)', basic(TEST_CLIENT.clientId, ''), {}],
    ['a Basic header that is not base64 of id:secret', 'Basic !!!not-base64!!!', {}],
    ['credentials by two mechanisms at once (Basic and client_secret_post)', basic(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret), { client_id: TEST_CLIENT.clientId, client_secret: TEST_CLIENT.clientSecret }],
  ])('malformed client authentication, %s: 400 invalid_request, and the code is still redeemable', async (_name, authorization, credentials) => {
    const { params } = await freshCode(broker);
    const refused = await post('/token', { ...params, ...credentials }, authorization);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_request');
    expect(refused.body).not.toHaveProperty('access_token');
    expect((await tokenRequest(broker, params)).status).toBe(200);
  });

  it('wrong secrets sent at the same moment as the right one do not stop it: one 200, the others 401 invalid_client', async () => {
    const { params } = await freshCode(broker);
    const wrong = () => post('/token', params, basic(TEST_CLIENT.clientId, OTHER_CLIENT.clientSecret));
    const [first, second, right, third, fourth] = await Promise.all([wrong(), wrong(), tokenRequest(broker, params), wrong(), wrong()]);
    expect(right.status).toBe(200);
    expect(right.body.access_token).toBeTruthy();
    for (const refused of [first, second, third, fourth]) expect([refused!.status, refused!.body.error]).toEqual([401, 'invalid_client']);
  });

  it('a code issued to test-rp cannot be redeemed by another client authenticating as itself (invalid_grant, and the code survives)', async () => {
    const { params } = await freshCode(broker);
    const stolen = await post('/token', params, basic(OTHER_CLIENT.clientId, OTHER_CLIENT.clientSecret));
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');
    expect(stolen.body).not.toHaveProperty('access_token');
    const redeemed = await tokenRequest(broker, params);
    expect(redeemed.status).toBe(200);
  });

  it('a refresh token with a wrong secret: 401 invalid_client, and the refresh token is neither used nor revoked', async () => {
    const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
    const refused = await post('/token', refreshParams(tokens.refresh_token!), basic(TEST_CLIENT.clientId, OTHER_CLIENT.clientSecret));
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    const refreshed = await tokenRequest(broker, refreshParams(tokens.refresh_token!));
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toBeTruthy();
  });

  it('an unknown client id, and a public client sending a secret it does not have, are refused too', async () => {
    const { params } = await freshCode(broker);
    const unknown = await post('/token', params, basic('no-such-client', TEST_CLIENT.clientSecret));
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe('invalid_client');
    const publicWithSecret = await post('/token', { ...params, client_id: PUBLIC_CLIENT.clientId }, basic(PUBLIC_CLIENT.clientId, 'made-up-secret'));
    expect(publicWithSecret.status).toBe(401);
    expect(publicWithSecret.body.error).toBe('invalid_client');
  });

  it('the same at introspection and revocation: 401 invalid_client, nothing revealed, nothing revoked', async () => {
    const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
    for (const path of ['/token/introspection', '/token/revocation']) {
      for (const [, authorization, credentials] of BAD_CREDENTIALS) {
        const refused = await post(path, { token: tokens.access_token, ...credentials }, authorization);
        expect(refused.status).toBe(401);
        expect(refused.body.error).toBe('invalid_client');
        expect(refused.body).not.toHaveProperty('active');
      }
    }
    expect(await userinfoStatus(broker, tokens.access_token)).toBe(200);
    const introspected = await post('/token/introspection', { token: tokens.access_token }, basic(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret));
    expect(introspected.body.active).toBe(true);
  });

  it('the same at the PAR endpoint: 401 invalid_client and no request_uri; the right secret pushes the request (201)', async () => {
    const authorization = { client_id: TEST_CLIENT.clientId, response_type: 'code', redirect_uri: TEST_CLIENT.redirectUri, scope: 'openid', state: 'par-state' };
    for (const [, header, credentials] of BAD_CREDENTIALS) {
      const refused = await post('/request', { ...authorization, ...credentials }, header);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_client');
      expect(refused.body).not.toHaveProperty('request_uri');
    }
    const pushed = await post('/request', authorization, basic(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret));
    expect(pushed.status).toBe(201);
    expect(pushed.body.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  });
});
