// Interop: Debian's pysaml2 (python3-pysaml2 + xmlsec1, RSA-SHA256) as the IdP; the connector accepts its Response and refuses a tampered copy.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoginStart } from '../../src/connectors/connector.js';
import { loginRequest, makeConnector } from '../connectors/saml-setup.js';

const IDP = 'https://pysaml2.example.test/idp';
let env: Awaited<ReturnType<typeof makeConnector>>;
let start: LoginStart;
let response: string;

beforeAll(async () => {
  env = await makeConnector({ schemaValidation: 'worker' }, { idp: { entityId: IDP } });
  env.clock.set(Date.now());
  start = await env.connector.startLogin(loginRequest());
  const input = {
    entityId: IDP,
    keyFile: 'test/fixtures/saml/idp-key.pem',
    certFile: 'test/fixtures/saml/idp-cert.pem',
    spMetadata: env.connector.spMetadata(),
    requestId: start.transactionData.requestId,
    acsUrl: env.acsUrl,
    spEntityId: env.spEntityId,
    nameId: 'py-user-1',
    email: 'py@interop.test',
  };
  response = execFileSync('/usr/bin/python3', ['test/interop/pysaml2_idp.py'], { input: JSON.stringify(input), timeout: 30_000 }).toString('utf8');
}, 60_000);

afterAll(async () => {
  await env?.connector.close?.();
});

describe('pysaml2 IdP', () => {
  it('signs the assertion with RSA-SHA256 / SHA-256', () => {
    const xml = Buffer.from(response, 'base64').toString('utf8');
    expect(xml).toContain('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(xml).toContain('http://www.w3.org/2001/04/xmlenc#sha256');
  });

  it('is accepted (schema-validated in the worker pool) and mapped to an identity', async () => {
    const identity = await env.connector.handleCallback({ method: 'POST', params: { SAMLResponse: response, RelayState: 'state-abc' }, url: new URL(env.acsUrl) }, start.transactionData);
    expect(identity).toMatchObject({ subject: 'py-user-1', email: 'py@interop.test', name: 'Py Saml', amr: ['pwd'] });
    expect(identity.connectorData).toMatchObject({ nameId: 'py-user-1', idpEntityId: IDP });
    expect(typeof identity.connectorData!.sessionIndex).toBe('string');
  }, 60_000);

  it('a tampered copy of its Response is refused', async () => {
    const xml = Buffer.from(response, 'base64').toString('utf8').replace('py@interop.test', 'admin@interop.test');
    const tampered = Buffer.from(xml, 'utf8').toString('base64');
    await expect(
      env.connector.handleCallback({ method: 'POST', params: { SAMLResponse: tampered, RelayState: 'state-abc' }, url: new URL(env.acsUrl) }, start.transactionData),
    ).rejects.toMatchObject({ code: 'saml_signature_invalid' });
  }, 60_000);
});
