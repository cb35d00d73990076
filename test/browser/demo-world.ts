// The demo as a newcomer meets it, for browser tests: the broker with the demo app, a local provider and the demo OIDC and SAML upstreams, all on loopback.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startDemoUpstreamOidc } from '../../src/demo/upstream-oidc.js';
import { startDemoUpstreamSaml } from '../../src/demo/upstream-saml.js';
import { localProvider, startBroker, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { launchChromium } from '../helpers/chromium.js';

export { TEST_USER };

export interface DemoWorld {
  broker: TestBroker;
  /** What the demo SAML IdP (Redirect binding) answered each IsPassive request, in order. */
  samlPassiveAnswers: readonly string[];
  close(): Promise<void>;
}

/** A free loopback port (the broker's issuer names its port before it listens). */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startDemoWorld(config: Record<string, unknown> = {}): Promise<DemoWorld> {
  const port = await freePort();
  const brokerIssuer = `http://127.0.0.1:${port}`;
  // Another host name than the broker's, as in development mode: cookies are per host, not per port, and both are oidc-provider.
  const oidc = await startDemoUpstreamOidc({ port: 0, brokerIssuer, host: 'localhost' });
  const saml = await startDemoUpstreamSaml({ port: 0, brokerIssuer });
  // A second demo IdP the broker reaches with the HTTP-POST binding (the first one uses Redirect).
  const samlPost = await startDemoUpstreamSaml({ port: 0, brokerIssuer, connectorId: 'demo-saml-post' });
  const postProvider = { ...samlPost.providerFile, name: 'Demo SAML IdP (POST)', domains: [], config: { ...samlPost.providerFile.config, authnRequestBinding: 'post' } };
  const broker = await startBroker({ port, providers: [await localProvider(), oidc.providerFile, saml.providerFile, postProvider], config: { demo: true, ...config } });
  return {
    broker,
    samlPassiveAnswers: saml.passiveAnswers,
    async close() {
      await broker.close();
      await Promise.all([oidc.close(), saml.close(), samlPost.close()]);
    },
  };
}

/** The page texts of one language, as the views show them. */
type TextKey =
  | 'languageName' | 'chooseTitle' | 'or' | 'signIn' | 'loginTitle' | 'username' | 'password' | 'continue' | 'continueWith' | 'cancel'
  | 'consentTitle' | 'allow' | 'deny' | 'notYou' | 'logoutTitle' | 'logoutYes' | 'demoSignedOut' | 'demoCancelled' | 'demoSignInAgain'
  | 'workEmail' | 'nextStep' | 'reference' | 'backTo';
export type Catalog = Record<TextKey, string> & { errors: Record<string, string>; scopes: Record<string, string>; timeline: Record<string, string> };

export function catalog(locale: string): Catalog {
  return JSON.parse(readFileSync(join(process.cwd(), 'views', 'i18n', `${locale}.json`), 'utf8')) as Catalog;
}

export const LANGUAGES = ['en', 'zh-CN'] as const;

/** Chromium and the demo world for one browser test file: started before its tests (handed to `started`), closed after them. */
export function useDemoWorld(started: (browser: Browser, world: DemoWorld) => void): void {
  let browser: Browser | undefined;
  let world: DemoWorld | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
    world = await startDemoWorld();
    started(browser, world);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });
}
