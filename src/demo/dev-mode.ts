// Development mode: starts the sample upstreams next to the broker and prints how to try a federated login.
import type { Logger } from 'pino';
import { validateProvider } from '../config/providers.js';
import type { BrokerConfig } from '../config/load.js';
import { ConfigError } from '../config/issues.js';
import { startDemoUpstreamOidc } from './upstream-oidc.js';
import { DEMO_SAML_USERS, startDemoUpstreamSaml } from './upstream-saml.js';
import { startDemoResources } from './mcp-resources.js';

export interface DemoUpstreams {
  upstreams: { name: string; url: string; accounts: string }[];
  /** MCP-style protected resources (RFC 9728 metadata, JWT access tokens for their audience only). */
  resources: { name: string; resource: string; metadataUrl: string }[];
  close(): Promise<void>;
}

/** Starts the sample OIDC provider and SAML IdP on free loopback ports and adds them to the configuration's providers. */
export async function startDemoUpstreams(config: BrokerConfig, logger: Logger): Promise<DemoUpstreams> {
  // Never the broker's own host name: browsers keep cookies per host, not per port, and both sides are oidc-provider.
  const host = new URL(config.issuer).hostname === '127.0.0.1' ? 'localhost' : '127.0.0.1';
  const oidc = await startDemoUpstreamOidc({ port: 0, brokerIssuer: config.issuer, host });
  const saml = await startDemoUpstreamSaml({ port: 0, brokerIssuer: config.issuer });
  const errors: string[] = [];
  for (const [index, file] of [oidc.providerFile, saml.providerFile].entries()) {
    const provider = validateProvider(file, `demo-upstream[${index}]`, process.cwd(), {}, errors);
    if (provider) config.providers.push(provider);
  }
  if (errors.length) throw new ConfigError(errors);
  logger.info({ oidc: oidc.issuer, saml: saml.url }, 'demo upstreams started');
  const resources = await startDemoResources(config, logger);
  return {
    upstreams: [
      { name: 'Demo OIDC IdP', url: oidc.issuer, accounts: 'alice / alice-password, bob / bob-password' },
      { name: 'Demo SAML IdP', url: saml.url, accounts: `${DEMO_SAML_USERS.map((u) => `${u.username} / ${u.password}`).join(', ')} (or type sam@saml.demo as the work email)` },
    ],
    resources: resources.resources,
    async close() {
      await Promise.all([oidc.close(), saml.close(), resources.close()]);
    },
  };
}

export function printDemoBanner(config: BrokerConfig, demo?: DemoUpstreams): void {
  const users = config.demoCredentials?.users ?? [];
  const lines = [
    '',
    '  Vestibule is running in development mode (memory store, generated keys: not for production).',
    '',
    `  Demo app:   ${config.issuer}/demo`,
    `  Discovery:  ${config.issuer}/.well-known/openid-configuration`,
    '',
    '  Demo accounts (passwords are generated at every start):',
    ...users.map((user) => `    ${user.username.padEnd(8)} ${user.password}`),
    '',
    ...(demo?.upstreams.length
      ? ['  Sample upstream IdPs (choose them on the sign-in page):', ...demo.upstreams.flatMap((u) => [`    ${u.name.padEnd(15)} ${u.url}`, `    ${''.padEnd(15)} ${u.accounts}`]), '']
      : []),
    ...(demo?.resources.length
      ? [
          '  MCP-style resources (an agent discovers the broker from their metadata; open registration is on in development):',
          ...demo.resources.flatMap((r) => [`    ${r.name.padEnd(15)} ${r.resource}`, `    ${''.padEnd(15)} ${r.metadataUrl}`]),
          '',
        ]
      : []),
  ];
  console.log(lines.join('\n'));
}
