// Property: any mutation of a signed SAML Response is refused with a ConnectorError or signs in as exactly the original identity.
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, type Identity } from '../../src/connectors/connector.js';
import { isSamlServiceProvider } from '../../src/connectors/saml.js';
import { callbackInput, makeConnector, solicitedResponse, authnRequestFromRedirect, requestIdOf } from '../connectors/saml-setup.js';
import type { RedisStore } from '../../src/store/redis.js';
import { Browser } from '../helpers/browser.js';
import { disposeRedisStore, openRedisStore } from '../helpers/redis.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, discoverRp } from '../helpers/rp.js';
import { SP_CERT, SP_KEY, TestIdp, b64, type ResponseOptions } from '../helpers/upstream-saml.js';
import { SESSION_COOKIE } from '../../src/federation/session-cookie.js';
import { mutationFor, type Mutation, type SignedPart } from './saml-mutations.js';
import { PROPERTY_TEST_TIMEOUT_MS, runParameters } from './runs.js';

/** The genuine Response every run starts from: a NameID plus attributes, so a changed attribute set would show. */
const GENUINE: ResponseOptions = { nameId: 'user-1234', attributes: { email: 'alice@example.com', displayName: 'Alice', groups: ['staff', 'admins'] } };
/** A hang guard per run (not a speed assertion: a verification takes milliseconds). */
const HANG_GUARD_MS = 20_000;

type Outcome = { accepted: Identity } | { refused: ConnectorError };

async function outcomeOf(promise: Promise<Identity>): Promise<Outcome> {
  try {
    return { accepted: await promise };
  } catch (error) {
    // Anything but the connector's typed error (a TypeError, a parser exception) fails the property here.
    if (error instanceof ConnectorError) return { refused: error };
    throw error;
  }
}

function checkOutcome(outcome: Outcome, m: Mutation, signed: SignedPart, original: Identity, mutated: string, xml: string): void {
  const verdict = m.verdict(signed);
  if (verdict === 'reject') expect(mutated, 'the mutation must change the message').not.toBe(xml);
  if ('accepted' in outcome) {
    expect(verdict, `accepted a message that must be refused: ${m.label}`).not.toBe('reject');
    expect(outcome.accepted).toEqual(original);
  } else {
    expect(verdict, `refused a harmless change (${outcome.refused.code}): ${m.label}`).not.toBe('accept');
    expect(outcome.refused.code).toMatch(/^[a-z0-9_]+$/);
    expect(outcome.refused.status).toBeGreaterThanOrEqual(400);
    expect(outcome.refused.status).toBeLessThan(500);
  }
}

describe.each([
  { signed: 'assertion' as const, policy: 'assertion', numRuns: 80 },
  { signed: 'response' as const, policy: 'response', numRuns: 40 },
])('connector verify, $signed signed', ({ signed, policy, numRuns }) => {
  let env: Awaited<ReturnType<typeof makeConnector>>;
  let original: Identity;

  beforeAll(async () => {
    env = await makeConnector({ signaturePolicy: policy });
    const { xml, transactionData } = await solicitedResponse(env, { ...GENUINE, sign: signed });
    original = await env.connector.handleCallback(callbackInput(xml), transactionData);
    expect(original.subject).toBe('user-1234');
    expect(original.email).toBe('alice@example.com');
  });
  afterAll(async () => {
    await env?.connector.close?.();
  });

  it('refuses with a ConnectorError, or signs in as exactly the original identity when the change is harmless', async () => {
    await fc.assert(
      fc.asyncProperty(mutationFor(signed), async (m) => {
        // A fresh genuine Response per run (new request ID and assertion ID), so the replay cache plays no part.
        const { xml, transactionData } = await solicitedResponse(env, { ...GENUINE, sign: signed });
        const mutated = m.apply(xml, signed);
        const outcome = await outcomeOf(env.connector.handleCallback(callbackInput(mutated), transactionData));
        checkOutcome(outcome, m, signed, original, mutated, xml);
      }),
      { ...runParameters(numRuns), timeout: HANG_GUARD_MS },
    );
  }, PROPERTY_TEST_TIMEOUT_MS);
});

describe('ACS over HTTP (a broker on Redis)', () => {
  let broker: TestBroker;
  let idp: TestIdp;
  let rp: Awaited<ReturnType<typeof discoverRp>>;
  const connectorId = 'acme-saml';
  /** Every log line the broker writes, at debug level. */
  const logLines: string[] = [];
  let store: RedisStore;

  beforeAll(async () => {
    store = await openRedisStore();
    broker = await startBroker({
      store,
      logger: pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) }),
      providers: [{ id: connectorId, type: 'saml', name: 'ACME SAML', config: { idp: { metadataXml: TestIdp.metadata() }, sp: { signingKey: SP_KEY, signingCert: SP_CERT }, schemaValidation: 'off' } }],
    });
    const connector = broker.app.broker.connectors.get(connectorId)!;
    if (!isSamlServiceProvider(connector)) throw new Error('not a SAML connector');
    idp = new TestIdp(connector.spMetadata());
    rp = await discoverRp(broker.issuer);
  });
  afterAll(async () => {
    await broker?.close();
    if (store) await disposeRedisStore(store);
  });

  it('any mutated SAMLResponse gets a 4xx page (or the original sign-in), never a 500, never a session for anyone else', async () => {
    const acsUrl = `${broker.issuer}/callback/${connectorId}`;
    const spEntityId = `${broker.issuer}/saml/${connectorId}/metadata`;
    let users = 0;
    await fc.assert(
      fc.asyncProperty(mutationFor('assertion'), async (m) => {
        const nameId = `prop-user-${++users}`;
        const browser = new Browser();
        const request = await authorizationRequest(rp, TEST_CLIENT, { idp_hint: connectorId });
        const atIdp = await browser.follow(request.url.href, {}, 'https://idp.example.test/sso');
        const relayState = new URL(atIdp.url).searchParams.get('RelayState')!;
        const requestId = requestIdOf(authnRequestFromRedirect(atIdp.url));
        const xml = await idp.responseXml({ ...GENUINE, nameId, inResponseTo: requestId, sign: 'assertion' }, acsUrl, spEntityId);
        const samlResponse = b64(m.apply(xml, 'assertion'));
        const auditBefore = broker.audit.length;
        const page = await browser.request(acsUrl, { form: { SAMLResponse: samlResponse, RelayState: relayState } });
        const verdict = m.verdict('assertion');
        // Neither the page nor the logs carry the message: no SAMLResponse, no assertion XML, no signature value.
        // (A mutation may leave an empty message, whose prefix is the empty string that every text contains.)
        const messageParts = [samlResponse.slice(0, 64), '<saml:Assertion', 'SignatureValue>'].filter((part) => part.length > 0);
        for (const secret of [...messageParts, nameId]) expect(page.body).not.toContain(secret);
        for (const secret of messageParts) expect(logLines.some((line) => line.includes(secret)), `a log line holds ${secret}`).toBe(false);
        // The ACS never sets the session pointer itself; the sign-in completes on a later same-site GET.
        expect(page.headers.get('set-cookie') ?? '').not.toContain(`${SESSION_COOKIE}=`);
        if (page.status === 303) {
          expect(verdict, `accepted a message that must be refused: ${m.label}`).not.toBe('reject');
          expect(page.headers.get('location')).toMatch(new RegExp(`^/callback/${connectorId}/complete\\?login=`));
        } else {
          expect(verdict, `refused a harmless change (${page.status}): ${m.label}`).not.toBe('accept');
          expect(page.status).toBeGreaterThanOrEqual(400);
          expect(page.status).toBeLessThan(500);
          expect(await broker.app.broker.sessions.byUpstreamSubject(connectorId, nameId)).toEqual([]);
          // The audit trail gets the reason.
          expect(broker.audit.slice(auditBefore)).toContainEqual(expect.objectContaining({ event: 'upstream.callback.rejected', connectorId, reason: expect.stringMatching(/^[a-z0-9_]+$/) }));
        }
        expect(await broker.app.broker.sessions.byUpstreamSubject(connectorId, 'victim-admin')).toEqual([]);
        expect(browser.cookie(broker.issuer, SESSION_COOKIE)).toBeUndefined();
      }),
      { ...runParameters(25), timeout: HANG_GUARD_MS },
    );
    // The log check above looked at something: the broker did log the refusals.
    expect(logLines.length).toBeGreaterThan(0);
  }, PROPERTY_TEST_TIMEOUT_MS);
});
