// An upstream that refuses the broker's own client credentials: a distinct code, a "misconfigured" page, and the status in logs and audit.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, discoverRp } from '../helpers/rp.js';
import { freeLoopbackPort, startTestUpstream, type TestUpstream } from '../helpers/upstream-oidc.js';

const WRONG_SECRET = 'wrong-secret-that-the-upstream-does-not-know-0123';

let up: TestUpstream;
let broker: TestBroker;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const port = await freeLoopbackPort();
  up = await startTestUpstream({ brokerIssuer: `http://127.0.0.1:${port}`, connectorId: 'acme' });
  broker = await startBroker({
    port,
    logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) }),
    providers: [{ id: 'acme', type: 'oidc', name: 'ACME SSO', config: up.connectorConfig({ clientSecret: WRONG_SECRET }) }],
  });
});
afterAll(async () => {
  await broker?.close();
  await up?.close();
});

/** Signs in at the upstream, then follows its redirect to the broker's callback, where the code exchange is refused. */
async function callbackPage(acceptLanguage?: string) {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config, TEST_CLIENT, { idp_hint: 'acme' });
  const browser = new Browser({ acceptLanguage });
  const atUpstream = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  expect(atUpstream.url.startsWith(up.issuer)).toBe(true);
  const atCallback = await browser.submit(atUpstream, '/login', { username: 'alice', password: 'alice-pw' }, `${broker.issuer}/callback/`);
  return browser.follow(atCallback.url, {}, TEST_CLIENT.redirectUri);
}

describe('an upstream refusing the broker\'s client credentials (401 invalid_client)', () => {
  it('shows a "misconfigured, contact support" page with its own code, not "did not answer"', async () => {
    const page = await callbackPage();
    expect(page.status).toBe(502);
    expect(page.body).toContain('upstream_client_rejected');
    expect(page.body).toContain('The sign-in service is misconfigured. Please contact support.');
    expect(page.body).not.toContain('did not answer');
    expect(page.body).not.toContain(WRONG_SECRET);
  });

  it('says so in Simplified Chinese too', async () => {
    const page = await callbackPage('zh-CN');
    expect(page.status).toBe(502);
    expect(page.body).toContain('登录服务配置有误，请联系技术支持。');
  });

  it('audits and logs the upstream status and error code, never the secret', async () => {
    await callbackPage();
    const event = broker.audit.filter((e) => e.event === 'upstream.callback.rejected').at(-1);
    expect(event).toMatchObject({ outcome: 'failure', reason: 'upstream_client_rejected', connectorId: 'acme', clientId: TEST_CLIENT.clientId });
    expect(String(event?.details?.detail)).toMatch(/401.*invalid_client/);
    const line = logLines.filter((l) => l.code === 'upstream_client_rejected').at(-1);
    expect(line).toBeDefined();
    expect(String(line?.detail)).toMatch(/401.*invalid_client/);
    expect(JSON.stringify(broker.audit)).not.toContain(WRONG_SECRET);
    expect(JSON.stringify(logLines)).not.toContain(WRONG_SECRET);
    expect(JSON.stringify(logLines)).not.toContain(Buffer.from(`${up.clientId}:${WRONG_SECRET}`).toString('base64'));
  });
});
