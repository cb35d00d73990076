// PAR (RFC 9126), DPoP (RFC 9449) and the device flow (RFC 8628), each switched on deliberately and per client: PAR required, DPoP-bound tokens refused without their proof, a device sign-in completed.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, forms } from '../helpers/browser.js';
import { startBroker, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, completeLogin, discoverRp } from '../helpers/rp.js';

const PAR_CLIENT = { clientId: 'par-rp', clientSecret: 'par-rp-secret-0123456789abcdefghijklmnop', redirectUri: 'http://127.0.0.1:1/par-cb' };
const DPOP_CLIENT = { clientId: 'dpop-rp', clientSecret: 'dpop-rp-secret-0123456789abcdefghijklmno', redirectUri: 'http://127.0.0.1:1/dpop-cb' };
const DEVICE_CLIENT = { clientId: 'tv-app', redirectUri: 'http://127.0.0.1:1/tv' };

describe('PAR, DPoP and the device flow', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker({
      config: {
        authorizationServer: { pushedAuthorizationRequests: { enabled: true }, dpop: { enabled: true }, deviceFlow: { enabled: true } },
        clients: [
          { clientId: PAR_CLIENT.clientId, clientSecret: PAR_CLIENT.clientSecret, redirectUris: [PAR_CLIENT.redirectUri], requirePushedAuthorizationRequests: true, skipConsent: true },
          { clientId: DPOP_CLIENT.clientId, clientSecret: DPOP_CLIENT.clientSecret, redirectUris: [DPOP_CLIENT.redirectUri], dpopBoundAccessTokens: true, skipConsent: true },
          { clientId: DEVICE_CLIENT.clientId, public: true, redirectUris: [DEVICE_CLIENT.redirectUri], deviceFlow: true },
        ],
      },
    });
  });
  afterAll(() => broker.close());

  it('advertises what is switched on', async () => {
    const discovery = (await (await fetch(`${broker.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(discovery.pushed_authorization_request_endpoint).toBe(`${broker.issuer}/request`);
    expect(discovery.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
    expect(discovery.device_authorization_endpoint).toBe(`${broker.issuer}/device/auth`);
    expect(discovery.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:device_code');
  });

  it('refuses a plain authorization request from a client that must push it, and signs it in through PAR', async () => {
    const config = await discoverRp(broker.issuer, PAR_CLIENT);
    const plain = await authorizationRequest(config, PAR_CLIENT);
    const refused = await fetch(plain.url, { redirect: 'manual' });
    const location = refused.headers.get('location');
    expect(location && new URL(location).searchParams.get('error')).toBe('invalid_request');
    expect(location && new URL(location).searchParams.get('error_description')).toMatch(/Pushed Authorization Request must be used/);

    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const pushed = await oidc.buildAuthorizationUrlWithPAR(config, { redirect_uri: PAR_CLIENT.redirectUri, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
    expect(pushed.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const browser = new Browser();
    const callback = await completeLogin(browser, await browser.follow(pushed.href, {}, PAR_CLIENT.redirectUri), PAR_CLIENT.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()?.email).toBe(TEST_USER.email);
    // A request_uri is single use.
    const replay = await fetch(pushed, { redirect: 'manual' });
    expect(new URL(replay.headers.get('location') ?? `${broker.issuer}/?error=none`).searchParams.get('error') ?? String(replay.status)).toMatch(/invalid_request_uri|400/);
  });

  async function signIn(config: oidc.Configuration, dpop?: oidc.DPoPHandle) {
    const request = await authorizationRequest(config, DPOP_CLIENT);
    const browser = new Browser();
    const callback = await completeLogin(browser, await browser.follow(request.url.href, {}, DPOP_CLIENT.redirectUri), DPOP_CLIENT.redirectUri);
    return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce }, undefined, dpop ? { DPoP: dpop } : undefined);
  }

  it('refuses a DPoP-bound client\'s token request without a proof, and its token without the proof at userinfo', async () => {
    const config = await discoverRp(broker.issuer, DPOP_CLIENT);
    const refused = await signIn(config).catch((error: unknown) => error as { error?: string; error_description?: string; status?: number });
    // oidc-provider: invalid_grant, "DPoP proof JWT not provided" (error_detail, logged).
    expect(refused).toMatchObject({ error: 'invalid_grant', status: 400 });

    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await signIn(config, dpop);
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const bearer = await fetch(`${broker.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(bearer.status).toBe(401);
    expect(bearer.headers.get('www-authenticate')).toMatch(/^DPoP /);
    // The DPoP scheme without its proof header: a malformed request (RFC 9449 §7.1, RFC 6750 §3.1).
    const noProof = await fetch(`${broker.issuer}/me`, { headers: { authorization: `DPoP ${tokens.access_token}` } });
    expect(noProof.status).toBe(400);
    expect(((await noProof.json()) as { error: string }).error).toBe('invalid_request');
    const otherKey = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    await expect(oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub, { DPoP: otherKey })).rejects.toBeDefined();
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub, { DPoP: dpop });
    expect(userinfo.sub).toBe(tokens.claims()!.sub);
  });

  it('completes a device-flow sign-in: code entered in the browser, confirmed, signed in, then the device polls its tokens', async () => {
    const config = await discoverRp(broker.issuer, DEVICE_CLIENT);
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' });
    expect(device.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);

    const browser = new Browser();
    const entry = await browser.follow(device.verification_uri);
    expect(entry.status).toBe(200);
    expect(entry.body).toContain('for="user_code"');
    // A wrong code is announced, not accepted.
    const wrong = await browser.submit(entry, '/device', { user_code: 'BCDF-GHJK' });
    expect(wrong.body).toContain('role="alert"');
    const confirm = await browser.submit(wrong, '/device', { user_code: device.user_code });
    expect(confirm.body).toContain(device.user_code);
    let page = await browser.submit(confirm, '/device', { confirm: 'yes' });
    for (let step = 0; step < 6 && forms(page).some((form) => /\/(login|consent)$/.test(form.action)); step++) {
      page = forms(page).some((form) => form.action.endsWith('/login'))
        ? await browser.submit(page, '/login', { username: TEST_USER.username, password: TEST_USER.password })
        : await browser.submit(page, '/consent', { decision: 'allow' });
    }
    expect(page.status).toBe(200);
    expect(page.body).toContain('role="status"');

    const tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
    expect(tokens.claims()?.email).toBe(TEST_USER.email);
    expect(tokens.claims()?.aud).toBe(DEVICE_CLIENT.clientId);
  });
});
