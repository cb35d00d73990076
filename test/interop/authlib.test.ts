// Interop: Debian's Authlib (/usr/bin/python3, python3-authlib) as a relying party of the broker, federated through a real upstream.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountIdFor } from '../../src/connectors/claims.js';
import { Browser } from '../helpers/browser.js';
import { localProvider, startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { completeLogin } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

const SCRIPT = fileURLToPath(new URL('./authlib_rp.py', import.meta.url));

/** Runs the Authlib script asynchronously (the broker answers it from this same process). */
function authlib(request: Record<string, unknown>): Promise<{ code: number; out: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', [SCRIPT], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(new Error(`python failed: ${error.message} ${stderr}`));
      try {
        resolve({ code: error ? (error.code as number) : 0, out: JSON.parse(stdout) as Record<string, unknown> });
      } catch {
        reject(new Error(`unexpected output: ${stdout} ${stderr}`));
      }
    });
    child.stdin!.end(JSON.stringify(request));
  });
}

let up: TestUpstream;
let broker: TestBroker;

beforeAll(async () => {
  const port = await freeLoopbackPort();
  up = await startTestUpstream({ brokerIssuer: `http://127.0.0.1:${port}`, connectorId: 'acme' });
  broker = await startBroker({
    port,
    providers: [await localProvider(), { id: 'acme', type: 'oidc', name: 'ACME SSO', domains: ['acme.test'], config: up.connectorConfig() }],
  });
});
afterAll(async () => {
  await broker?.close();
  await up?.close();
});

describe('Authlib relying party', () => {
  let authorize: Record<string, string>;
  let result: Record<string, unknown>;

  beforeAll(async () => {
    const started = await authlib({
      mode: 'authorize',
      issuer: broker.issuer,
      client_id: TEST_CLIENT.clientId,
      redirect_uri: TEST_CLIENT.redirectUri,
      scope: 'openid profile email groups',
      params: { idp_hint: 'acme' },
    });
    expect(started.code).toBe(0);
    authorize = started.out as Record<string, string>;

    const browser = new Browser();
    const upstreamPage = await browser.follow(authorize.authorization_url as string, {}, TEST_CLIENT.redirectUri);
    expect(upstreamPage.url.startsWith(up.issuer)).toBe(true);
    const atBroker = await browser.submit(upstreamPage, '/login', { username: 'alice', password: 'alice-pw' }, TEST_CLIENT.redirectUri);
    const callback = await completeLogin(browser, atBroker, TEST_CLIENT.redirectUri);

    const exchanged = await authlib({
      mode: 'exchange',
      issuer: broker.issuer,
      client_id: TEST_CLIENT.clientId,
      client_secret: TEST_CLIENT.clientSecret,
      redirect_uri: TEST_CLIENT.redirectUri,
      callback_url: callback.href,
      state: authorize.state,
      nonce: authorize.nonce,
      code_verifier: authorize.code_verifier,
    });
    expect(exchanged.out).not.toHaveProperty('error');
    expect(exchanged.code).toBe(0);
    result = exchanged.out;
  });

  it('discovers the broker and sends a PKCE S256 authorization request', () => {
    const url = new URL(authorize.authorization_url as string);
    expect(url.origin).toBe(broker.issuer);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get('nonce')).toBe(authorize.nonce);
  });

  it('validates the broker ID token (signature from the JWKS, iss, aud, exp, nonce, at_hash) and reads userinfo', () => {
    const claims = result.claims as Record<string, unknown>;
    expect(claims.iss).toBe(broker.issuer);
    expect(claims.aud).toBe(TEST_CLIENT.clientId);
    expect(claims.nonce).toBe(authorize.nonce);
    expect(claims.sub).toBe(accountIdFor('acme', 'sub-alice'));
    expect(claims.email).toBe('alice@acme.test');
    expect((result.header as Record<string, unknown>).alg).toBe('ES256');
    expect(result.userinfo).toMatchObject({ sub: claims.sub, email: 'alice@acme.test', groups: ['admins', 'staff'] });
  });

  it('refuses the same ID token with another nonce or for another audience', async () => {
    const base = { mode: 'validate', issuer: broker.issuer, id_token: result.id_token, nonce: authorize.nonce };
    expect((await authlib({ ...base, client_id: TEST_CLIENT.clientId })).code).toBe(0);
    const wrongNonce = await authlib({ ...base, client_id: TEST_CLIENT.clientId, nonce: 'another-nonce' });
    expect(wrongNonce.code).toBe(1);
    expect(wrongNonce.out.error).toBe('InvalidClaimError');
    const wrongAudience = await authlib({ ...base, client_id: 'another-client' });
    expect(wrongAudience.code).toBe(1);
    expect(wrongAudience.out.error).toBe('InvalidClaimError');
  });

  it('refuses an ID token whose signature was tampered with', async () => {
    const [header, payload, signature] = (result.id_token as string).split('.') as [string, string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), email: 'mallory@acme.test' })).toString('base64url');
    const tampered = await authlib({ mode: 'validate', issuer: broker.issuer, client_id: TEST_CLIENT.clientId, nonce: authorize.nonce, id_token: `${header}.${forgedPayload}.${signature}` });
    expect(tampered.code).toBe(1);
    expect(tampered.out.error).toBe('BadSignatureError');
  });
});
