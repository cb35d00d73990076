// The attack suite: every forged, tampered, replayed or oversized SAML message is refused with a stable error code.
import { deflateRawSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { Element } from '@xmldom/xmldom';
import { ConnectorError } from '../../src/connectors/connector.js';
import { ATTACKER_CERT, ATTACKER_KEY, STATUS, b64 } from '../helpers/upstream-saml.js';
import { ISSUER, callbackInput, makeConnector, solicitedResponse, type Connector } from './saml-setup.js';
import { A, byName, DS, evilize, P, parse, serialize, XSW } from '../helpers/saml-forgery.js';

let open: Connector[] = [];
afterEach(async () => {
  await Promise.all(open.map((c) => c.close?.()));
  open = [];
});

async function env(overrides: Record<string, unknown> = {}) {
  const e = await makeConnector(overrides);
  open.push(e.connector);
  return e;
}

/** Runs the callback and returns the ConnectorError code it was refused with (fails the test if it was accepted). */
async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConnectorError) return error.code;
    throw error;
  }
  throw new Error('the forged message was accepted');
}


describe('XML Signature Wrapping (SAML Raider XSW1-XSW8)', () => {
  const expected: Record<string, string> = {
    // A second (hidden) copy of the signed element is refused as a second assertion, or as a repeated ID.
    XSW1: 'saml_multiple_assertions',
    XSW2: 'saml_multiple_assertions',
    XSW3: 'saml_multiple_assertions',
    XSW4: 'saml_multiple_assertions',
    XSW5: 'saml_signature_wrapping',
    XSW6: 'saml_multiple_assertions',
    XSW7: 'saml_multiple_assertions',
    XSW8: 'saml_signature_wrapping',
  };
  for (const [name, wrap] of Object.entries(XSW)) {
    it(`refuses ${name}`, async () => {
      const responseLevel = name === 'XSW1' || name === 'XSW2';
      const e = await env(responseLevel ? { signaturePolicy: 'response' } : {});
      const { xml, transactionData } = await solicitedResponse(e, { sign: responseLevel ? 'response' : 'assertion' });
      const doc = parse(xml);
      wrap(doc);
      const forged = serialize(doc);
      expect(forged).toContain('victim-admin');
      expect(await refusal(e.connector.handleCallback(callbackInput(forged), transactionData))).toBe(expected[name]);
    });
  }
});

describe('signatures', () => {
  it('refuses a stripped signature', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e);
    const doc = parse(xml);
    const sig = byName(doc, DS, 'Signature')[0]!;
    sig.parentNode!.removeChild(sig);
    expect(await refusal(e.connector.handleCallback(callbackInput(serialize(doc)), transactionData))).toBe('saml_signature_missing');
  });

  it('refuses a signature made by another key (even with that key in KeyInfo)', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e, { signingKey: { key: ATTACKER_KEY, cert: ATTACKER_CERT } });
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), transactionData))).toBe('saml_signature_invalid');
  });

  it('refuses a broken assertion signature instead of falling back to the valid Response signature', async () => {
    const e = await env({ signaturePolicy: 'either' });
    const { xml, transactionData } = await solicitedResponse(e, { sign: 'both', nameId: 'alice' });
    // Tampering the assertion breaks both digests; tamper only the assertion's SignatureValue instead.
    const doc = parse(xml);
    const assertionSig = byName(byName(doc, A, 'Assertion')[0]!, DS, 'SignatureValue')[0]!;
    assertionSig.firstChild!.nodeValue = `AAAA${assertionSig.firstChild!.nodeValue!.slice(4)}`;
    expect(await refusal(e.connector.handleCallback(callbackInput(serialize(doc)), transactionData))).toBe('saml_signature_invalid');
  });

  it('refuses a signature that is moved to the Response but still references the Assertion', async () => {
    const e = await env({ signaturePolicy: 'either' });
    const { xml, transactionData } = await solicitedResponse(e, { sign: 'assertion' });
    const doc = parse(xml);
    const sig = byName(doc, DS, 'Signature')[0]!;
    sig.parentNode!.removeChild(sig);
    doc.documentElement!.insertBefore(sig, byName(doc, P, 'Status')[0]!);
    expect(await refusal(e.connector.handleCallback(callbackInput(serialize(doc)), transactionData))).toBe('saml_signature_wrapping');
  });

  it('refuses a Response signed only at the Response level when the Assertion must be signed', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e, { sign: 'response' });
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), transactionData))).toBe('saml_signature_missing');
  });

  it('refuses an assertion-only signature when the policy is "both"', async () => {
    const e = await env({ signaturePolicy: 'both' });
    const { xml, transactionData } = await solicitedResponse(e, { sign: 'assertion' });
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), transactionData))).toBe('saml_signature_missing');
  });

  it('refuses RSA-SHA1 unless allowSha1 is set', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e, { sha1: true });
    expect(xml).toContain('xmldsig#rsa-sha1');
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), transactionData))).toBe('saml_signature_algorithm');
  });

  it('refuses a Response with two assertions, one signed and one not', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e);
    const doc = parse(xml);
    const original = byName(doc, A, 'Assertion')[0]!;
    const evil = evilize(original.cloneNode(true) as Element, '_second');
    evil.removeChild(byName(evil, DS, 'Signature')[0]!);
    doc.documentElement!.appendChild(evil);
    expect(await refusal(e.connector.handleCallback(callbackInput(serialize(doc)), transactionData))).toBe('saml_multiple_assertions');
  });
});

describe('XML-level attacks', () => {
  it('refuses NameID comment injection (user@evil.com<!---->.good.com)', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e, { nameId: 'admin@good.com.evil.com' });
    const forged = xml.replace('admin@good.com.evil.com', 'admin@good.com<!---->.evil.com');
    expect(forged).toContain('<!---->');
    expect(await refusal(e.connector.handleCallback(callbackInput(forged), transactionData))).toBe('saml_xml_comment');
  });

  it('refuses XXE and any DTD', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e);
    const xxe = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${xml.replace('user-1234', '&x;')}`;
    expect(await refusal(e.connector.handleCallback(callbackInput(xxe), transactionData))).toBe('saml_dtd_forbidden');
    const laughs = `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>${xml}`;
    expect(await refusal(e.connector.handleCallback(callbackInput(laughs), transactionData))).toBe('saml_dtd_forbidden');
  });

  it('refuses malformed base64', async () => {
    const e = await env();
    const { transactionData } = await solicitedResponse(e);
    const input = { method: 'POST' as const, params: { SAMLResponse: 'PHNhbWxwOl!!!not-base64', RelayState: 's' }, url: new URL(ISSUER) };
    expect(await refusal(e.connector.handleCallback(input, transactionData))).toBe('saml_malformed_base64');
  });

  it('refuses a body over 1 MB', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e);
    const padded = xml.replace('</samlp:Response>', `<samlp:Extensions>${'A'.repeat(1024 * 1024)}</samlp:Extensions></samlp:Response>`);
    expect(await refusal(e.connector.handleCallback(callbackInput(padded), transactionData))).toBe('saml_too_large');
  });

  it('refuses a deflate bomb on the HTTP-Redirect binding', async () => {
    const e = await env();
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024, 0x20)).toString('base64');
    expect(bomb.length).toBeLessThan(200_000);
    const input = { binding: 'redirect' as const, params: { SAMLRequest: bomb }, rawQuery: `SAMLRequest=${encodeURIComponent(bomb)}` };
    expect(await refusal(e.connector.handleSlo(input, async () => 0))).toBe('saml_too_large');
  });

  it('refuses duplicate IDs', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e);
    const doc = parse(xml);
    const id = byName(doc, A, 'Assertion')[0]!.getAttribute('ID')!;
    byName(doc, P, 'Status')[0]!.setAttribute('ID', id);
    expect(await refusal(e.connector.handleCallback(callbackInput(serialize(doc)), transactionData))).toBe('saml_signature_wrapping');
  });
});

describe('protocol checks samlify leaves open', () => {
  it('refuses a replayed assertion', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e);
    await e.connector.handleCallback(callbackInput(xml), transactionData);
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), transactionData))).toBe('saml_replay');
  });

  it.each([
    ['Destination', { destination: 'https://evil.example/acs' }, 'saml_destination_mismatch'],
    ['Audience', { audience: 'https://other-sp.example' }, 'saml_audience_mismatch'],
    ['Recipient', { recipient: 'https://evil.example/acs' }, 'saml_recipient_mismatch'],
    ['Issuer', { issuer: 'https://evil-idp.example' }, 'saml_issuer_mismatch'],
  ])('refuses a wrong %s', async (_name, options, code) => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e, options);
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), transactionData))).toBe(code);
  });

  it('refuses an expired assertion (beyond the clock skew) and accepts within it', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e, { scdNotOnOrAfter: e.clock.get() + 60_000, notOnOrAfter: e.clock.get() + 60_000 });
    e.clock.advance(60_000 + 121_000);
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), transactionData))).toBe('saml_expired');
    const within = await solicitedResponse(e, { scdNotOnOrAfter: e.clock.get() - 60_000, notOnOrAfter: e.clock.get() + 60_000 });
    await expect(e.connector.handleCallback(callbackInput(within.xml), within.transactionData)).resolves.toMatchObject({ subject: 'user-1234' });
  });

  it('refuses an assertion that is not yet valid', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e, { notBefore: e.clock.get() + 10 * 60_000 });
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), transactionData))).toBe('saml_not_yet_valid');
  });

  it('refuses an InResponseTo that answers another request', async () => {
    const e = await env();
    const { xml } = await solicitedResponse(e);
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), { requestId: '_another-request' }))).toBe('saml_in_response_to_mismatch');
  });

  it('refuses an unsolicited response when IdP-initiated login is off', async () => {
    const e = await env();
    const xml = await e.idp.responseXml({ now: e.clock.get() }, e.acsUrl, e.spEntityId);
    expect(await refusal(e.connector.handleUnsolicited(callbackInput(xml)))).toBe('saml_unsolicited');
    const start = await e.connector.startLogin({ interactionUid: 'u', callbackUrl: e.acsUrl, state: 's' });
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), start.transactionData))).toBe('saml_unsolicited');
  });

  it.each([
    [STATUS('Responder'), STATUS('AuthnFailed'), 'saml_authn_failed'],
    [STATUS('Responder'), undefined, 'saml_status_responder'],
    [STATUS('Requester'), STATUS('RequestDenied'), 'saml_request_denied'],
    // Not a top-level code SAML defines (core 3.2.2.2; found by the SAML property test): a malformed message, 400, not an IdP error.
    [STATUS('Succes s'), undefined, 'saml_invalid_message'],
    [STATUS('AuthnFailed'), STATUS('AuthnFailed'), 'saml_invalid_message'],
  ])('maps status %s/%s to a clear error', async (status, subStatus, code) => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e, { status, ...(subStatus ? { subStatus } : {}), sign: 'response' });
    const error = await e.connector.handleCallback(callbackInput(xml), transactionData).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe(code);
    if (code === 'saml_invalid_message') expect((error as ConnectorError).status).toBe(400);
  });

  it('refuses plain assertions when encryption is required', async () => {
    const e = await env({ requireEncryptedAssertions: true });
    const { xml, transactionData } = await solicitedResponse(e);
    expect(await refusal(e.connector.handleCallback(callbackInput(xml), transactionData))).toBe('saml_encryption_required');
  });

  it('refuses the HTTP-Redirect binding at the ACS', async () => {
    const e = await env();
    const { xml, transactionData } = await solicitedResponse(e);
    const input = { ...callbackInput(xml), method: 'GET' as const };
    expect(await refusal(e.connector.handleCallback(input, transactionData))).toBe('saml_binding_unsupported');
  });
});

describe('Single Logout forgeries', () => {
  it('refuses a LogoutRequest that wraps a captured signed Assertion and names a victim (samlify#634)', async () => {
    const e = await env();
    const { xml } = await solicitedResponse(e, { nameId: 'attacker' });
    const assertion = byName(parse(xml), A, 'Assertion')[0]!;
    const unsignedLogout = e.idp.logoutRequestXml({ nameId: 'victim', destination: `${ISSUER}/saml/acme-saml/slo`, now: e.clock.get(), sign: false });
    const doc = parse(unsignedLogout);
    const extensions = doc.createElementNS(P, 'samlp:Extensions');
    extensions.appendChild(doc.importNode(assertion as never, true) as never);
    doc.documentElement!.insertBefore(extensions, byName(doc, A, 'NameID')[0]!);
    const ended: string[] = [];
    const input = { binding: 'post' as const, params: { SAMLRequest: b64(serialize(doc)) }, rawQuery: '' };
    expect(await refusal(e.connector.handleSlo(input, async ({ nameId }) => (ended.push(nameId), 1)))).toBe('saml_signature_wrapping');
    expect(ended).toEqual([]);
  });

  it('refuses an unsigned LogoutRequest and one signed by another key', async () => {
    const e = await env();
    const destination = `${ISSUER}/saml/acme-saml/slo`;
    const ended: string[] = [];
    const endSessions = async ({ nameId }: { nameId: string }) => (ended.push(nameId), 1);
    const unsigned = e.idp.logoutRequestXml({ nameId: 'victim', destination, now: e.clock.get(), sign: false });
    expect(await refusal(e.connector.handleSlo({ binding: 'post', params: { SAMLRequest: b64(unsigned) }, rawQuery: '' }, endSessions))).toBe('saml_signature_missing');
    const forged = e.idp.logoutRequestXml({ nameId: 'victim', destination, now: e.clock.get(), signingKey: { key: ATTACKER_KEY, cert: ATTACKER_CERT } });
    expect(await refusal(e.connector.handleSlo({ binding: 'post', params: { SAMLRequest: b64(forged) }, rawQuery: '' }, endSessions))).toBe('saml_signature_invalid');
    expect(ended).toEqual([]);
  });
});
