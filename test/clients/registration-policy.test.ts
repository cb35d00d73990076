// The registration policy (RFC 7591 §2, RFC 8252) as a pure function: what is refused with which RFC 7591 code, and what is completed.
import { describe, expect, it } from 'vitest';
import { applyRegistrationPolicy, type RegistrationPolicy } from '../../src/clients/registration-policy.js';

const POLICY: RegistrationPolicy = { grantTypes: ['authorization_code', 'refresh_token'], authMethods: ['client_secret_basic', 'client_secret_post', 'none'], scopes: ['openid', 'email', 'mcp:tools'], mode: 'token' };
const check = (metadata: unknown, policy: Partial<RegistrationPolicy> = {}) => applyRegistrationPolicy(metadata, { ...POLICY, ...policy });

describe('applyRegistrationPolicy', () => {
  it('makes a client with only loopback redirects a native app, whatever it omits (RFC 8252)', () => {
    for (const uri of ['http://localhost:33418/callback', 'http://127.0.0.1:5000/cb', 'http://[::1]:8080/cb']) {
      expect(check({ redirect_uris: [uri] })).toMatchObject({ ok: true, metadata: { application_type: 'native', grant_types: ['authorization_code'], response_types: ['code'] } });
    }
    expect(check({ redirect_uris: ['com.example.app:/cb'] })).toMatchObject({ ok: true, metadata: { application_type: 'native' } });
    expect(check({ redirect_uris: ['https://app.example.com/cb'] })).toMatchObject({ ok: true, metadata: { application_type: 'web' } });
  });

  it('drops what the server assigns and keeps the client\'s metadata', () => {
    const result = check({ redirect_uris: ['https://app.example.com/cb'], client_id: 'chosen', client_secret: 'chosen', registration_access_token: 'x', client_name: 'App' });
    expect(result.ok && result.metadata).toEqual({ redirect_uris: ['https://app.example.com/cb'], client_name: 'App', application_type: 'web', grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' });
  });

  it.each([
    ['http to a public host', ['http://app.example.com/cb']],
    ['javascript:', ['javascript:alert(1)']],
    ['data:', ['data:text/html,x']],
    ['vbscript:', ['vbscript:x']],
    ['a fragment', ['https://app.example.com/cb#frag']],
    ['a relative URI', ['/cb']],
    ['a space', ['https://app.example.com/c b']],
    ['a single-word private scheme', ['myapp:/cb']],
    ['a mix of web and loopback (web app)', ['https://app.example.com/cb', 'http://127.0.0.1/cb']],
  ])('refuses %s with invalid_redirect_uri', (_name, uris) => {
    expect(check({ redirect_uris: uris })).toMatchObject({ ok: false, error: 'invalid_redirect_uri' });
  });

  it('refuses https to loopback for a native app and loopback for a declared web app', () => {
    expect(check({ redirect_uris: ['https://127.0.0.1/cb'], application_type: 'native' })).toMatchObject({ ok: false, error: 'invalid_redirect_uri' });
    expect(check({ redirect_uris: ['http://127.0.0.1/cb'], application_type: 'web' })).toMatchObject({ ok: false, error: 'invalid_redirect_uri' });
    expect(check({ redirect_uris: ['https://app.example.com/cb'], post_logout_redirect_uris: ['javascript:x'] })).toMatchObject({ ok: false, error: 'invalid_redirect_uri' });
  });

  it.each([
    ['an unknown grant type', { grant_types: ['client_credentials'] }],
    ['a grant type not a string', { grant_types: [1] }],
    ['implicit', { response_types: ['id_token'] }],
    ['an auth method not allowed', { token_endpoint_auth_method: 'private_key_jwt' }],
    ['a scope not offered', { scope: 'openid admin' }],
    ['a non-string scope', { scope: ['openid'] }],
    ['an http logo', { logo_uri: 'http://app.example.com/logo.png' }],
    ['a jwks_uri', { jwks_uri: 'https://app.example.com/jwks' }],
    ['a sector_identifier_uri', { sector_identifier_uri: 'https://app.example.com/s' }],
    ['an unknown application type', { application_type: 'desktop' }],
  ])('refuses %s with invalid_client_metadata', (_name, extra) => {
    expect(check({ redirect_uris: ['https://app.example.com/cb'], ...extra })).toMatchObject({ ok: false, error: 'invalid_client_metadata' });
  });

  it('refuses non-objects', () => {
    for (const input of [null, [], 'x', 42]) expect(check(input)).toMatchObject({ ok: false, error: 'invalid_client_metadata' });
  });

  it('in open mode accepts public clients only and makes an omitted method "none"', () => {
    expect(check({ redirect_uris: ['http://localhost:1/cb'] }, { mode: 'open' })).toMatchObject({ ok: true, metadata: { token_endpoint_auth_method: 'none' } });
    expect(check({ redirect_uris: ['http://localhost:1/cb'], token_endpoint_auth_method: 'client_secret_post' }, { mode: 'open' })).toMatchObject({ ok: false, error: 'invalid_client_metadata' });
  });

  it('accepts the resource scopes an MCP client registers, and a device-only client without redirect URIs', () => {
    expect(check({ redirect_uris: ['http://localhost:1/cb'], scope: 'mcp:tools' })).toMatchObject({ ok: true });
    const device = check({ grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], token_endpoint_auth_method: 'none' }, { grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'] });
    expect(device).toMatchObject({ ok: true, metadata: { response_types: [] } });
  });
});
