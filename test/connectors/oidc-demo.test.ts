// The development-mode sample upstream: its ProviderFile works with the OIDC connector and signs the demo users in.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { isRedirectConnector } from '../../src/connectors/connector.js';
import { oidcConnectorFactory } from '../../src/connectors/oidc.js';
import { startDemoUpstreamOidc, type DemoUpstreamOidc } from '../../src/demo/upstream-oidc.js';
import { testConnectorContext } from '../helpers/upstream-oidc.js';

const brokerIssuer = 'http://127.0.0.1:9';
let demo: DemoUpstreamOidc;
beforeAll(async () => {
  demo = await startDemoUpstreamOidc({ port: 0, brokerIssuer });
});
afterAll(async () => demo?.close());

it('signs alice in through the demo upstream with the shipped provider file', async () => {
  const file = demo.providerFile;
  expect(file.type).toBe('oidc');
  const config = oidcConnectorFactory.configSchema.parse(file.config);
  const connector = await oidcConnectorFactory.create({ id: file.id, name: file.name, domains: file.domains ?? [] }, config, testConnectorContext({ issuer: brokerIssuer }));
  if (!isRedirectConnector(connector)) throw new Error('not a redirect connector');
  const callbackUrl = `${brokerIssuer}/callback/${file.id}`;
  const start = await connector.startLogin({ interactionUid: 'u', callbackUrl, state: 'demo-state' });
  const browser = new Browser();
  const loginPage = await browser.follow(start.redirectUrl!, {}, callbackUrl);
  expect(loginPage.body).toContain('alice');
  const wrong = await browser.submit(loginPage, '/login', { username: 'alice', password: 'nope' }, callbackUrl);
  expect(wrong.status).toBe(401);
  const back = await browser.submit(wrong, '/login', { username: 'alice', password: 'alice-password' }, callbackUrl);
  const url = new URL(back.url);
  const identity = await connector.handleCallback({ method: 'GET', params: Object.fromEntries(url.searchParams), url }, start.transactionData);
  expect(identity).toMatchObject({ subject: 'demo-alice', email: 'alice@demo.example', groups: ['demo:admins', 'demo:staff'] });
  expect(identity.upstreamTokens?.refreshToken).toBeTruthy();
});
