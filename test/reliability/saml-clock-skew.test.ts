// SAML time checks against an IdP whose clock is two minutes off (injected clocks): accepted within clockSkewSeconds (default 120), refused a second beyond it.
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/connectors/connector.js';
import { callbackInput, makeConnector, solicitedResponse, type Connector } from '../connectors/saml-setup.js';

const MINUTE = 60_000;
let open: Connector[] = [];
afterEach(async () => {
  await Promise.all(open.map((connector) => connector.close?.()));
  open = [];
});

/** A response from an IdP whose clock is `offsetMs` from the broker's: not valid before its own now, valid for `lifetimeMs`. */
async function answer(offsetMs: number, lifetimeMs: number, overrides: Record<string, unknown> = {}) {
  const e = await makeConnector(overrides);
  open.push(e.connector);
  const idpNow = e.clock.get() + offsetMs;
  const { xml, transactionData } = await solicitedResponse(e, { now: idpNow, notBefore: idpNow, notOnOrAfter: idpNow + lifetimeMs, scdNotOnOrAfter: idpNow + lifetimeMs });
  return e.connector.handleCallback(callbackInput(xml), transactionData).then(
    (identity) => identity.subject,
    (error: unknown) => (error instanceof ConnectorError ? error.code : Promise.reject(error)),
  );
}

describe('an IdP two minutes ahead (its NotBefore is in the broker\'s future)', () => {
  it('is accepted at two minutes, the default clockSkewSeconds', async () => {
    expect(await answer(2 * MINUTE, 5 * MINUTE)).toBe('user-1234');
  });
  it('is refused a second beyond it (saml_not_yet_valid)', async () => {
    expect(await answer(2 * MINUTE + 1000, 5 * MINUTE)).toBe('saml_not_yet_valid');
  });
  it('is accepted with clockSkewSeconds 180', async () => {
    expect(await answer(2 * MINUTE + 1000, 5 * MINUTE, { clockSkewSeconds: 180 })).toBe('user-1234');
  });
});

describe('an IdP behind the broker, with one-minute assertions (expired by the broker\'s clock)', () => {
  it('two minutes behind: expired one minute ago, within the skew, accepted', async () => {
    expect(await answer(-2 * MINUTE, MINUTE)).toBe('user-1234');
  });
  it('three minutes behind: expired exactly clockSkewSeconds ago, refused (saml_expired)', async () => {
    expect(await answer(-3 * MINUTE, MINUTE)).toBe('saml_expired');
  });
});
