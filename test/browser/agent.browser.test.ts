// An MCP-style agent's sign-in in Chromium: its Client ID Metadata Document fetched by the broker, the sign-in and consent pages naming the host that served it (axe-clean, no overflow), then a token its resource takes; English and Simplified Chinese.
import { createHash, randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoResource, type DemoResource } from '../../src/demo/resource-server.js';
import { DESKTOP, launchChromium, newTestContext, PHONE } from '../helpers/chromium.js';
import { startBroker, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { json, startDocumentHost, testResolver, type DocumentHost } from '../helpers/document-host.js';
import { testCertificate } from '../helpers/tls.js';
import { catalog, freePort } from './demo-world.js';
import { demoFlows, expectClean } from './flows.js';

const REDIRECT = 'http://127.0.0.1:1/agent-cb';

let browser: Browser;
let broker: TestBroker;
let host: DocumentHost;
let files: DemoResource;
let clientId: string;

beforeAll(async () => {
  browser = await launchChromium();
  const certificate = testCertificate(['agent.test']);
  host = await startDocumentHost(certificate);
  clientId = `https://agent.test:${host.port}/oauth/client.json`;
  host.routes.set('/oauth/client.json', json({ client_id: clientId, client_name: 'Research Agent', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }, { 'cache-control': 'max-age=600' }));
  const port = await freePort();
  files = await startDemoResource({ name: 'Files', issuer: `http://127.0.0.1:${port}`, scopes: ['files:read'], writeScope: 'files:write' });
  broker = await startBroker({
    port,
    config: { authorizationServer: { clientIdMetadataDocument: { enabled: true, allowedAddresses: ['loopback'] }, resourceServers: [{ identifier: files.resource, scopes: ['files:read', 'files:write'] }] } },
    outbound: { outboundResolver: testResolver({ 'agent.test': '127.0.0.1' }), outboundCa: certificate.ca },
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await broker?.close();
  await Promise.all([host?.close(), files?.close()]);
});

describe('an agent signing in with a Client ID Metadata Document', () => {
  it.each([
    ['en', DESKTOP],
    ['zh-CN', PHONE],
  ] as const)('%s: the sign-in and consent pages name the document\'s host; the agent gets a token its resource takes', async (locale, viewport) => {
    const t = catalog(locale);
    const { checkPage } = demoFlows(() => broker.url);
    const tc = await newTestContext(browser, viewport, locale);
    const { page } = tc;
    // The agent's callback (a loopback listener in a real agent) is answered here.
    await page.route(`${REDIRECT}**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'agent callback' }));
    const verifier = randomBytes(32).toString('base64url');
    const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'files:read', resource: files.resource, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' });
    await page.goto(`${broker.issuer}/auth?${query}`);

    await page.getByLabel(t.username).waitFor();
    expect(await page.locator('main').textContent()).toContain(`agent.test:${host.port}`);
    await checkPage(tc, `agent-login-${locale}`);
    await page.getByLabel(t.username).fill(TEST_USER.username);
    await page.getByLabel(t.password).fill(TEST_USER.password);
    await page.getByRole('button', { name: t.signIn, exact: true }).click();
    await page.getByRole('heading', { name: t.consentTitle }).waitFor();
    expect(await page.locator('main').textContent()).toContain(`(agent.test:${host.port})`);
    await checkPage(tc, `agent-consent-${locale}`);
    await page.getByRole('button', { name: t.allow }).click();
    await page.waitForURL(`${REDIRECT}**`);

    const code = new URL(page.url()).searchParams.get('code');
    expect(code).toBeTruthy();
    const response = await fetch(`${broker.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier, resource: files.resource }),
    });
    const tokens = (await response.json()) as { access_token: string };
    expect(response.status, JSON.stringify(tokens)).toBe(200);
    expect((await fetch(files.resource, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(200);
    await expectClean(tc);
  }, 120_000);
});
