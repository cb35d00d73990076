// Development mode: two MCP-style protected resources next to the broker, so a token for one is seen refused by the other, and agents may register openly.
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/load.js';
import { startDemoResource, type DemoResource } from './resource-server.js';

export interface DemoResources {
  resources: { name: string; resource: string; metadataUrl: string }[];
  close(): Promise<void>;
}

/**
 * Starts "Demo files" (files:read; its write tool needs files:write, a step-up) and "Demo calendar" (calendar:read),
 * adds them as resource servers, and turns on open registration for agents and Client ID Metadata Documents (development only).
 */
export async function startDemoResources(config: BrokerConfig, logger: Logger): Promise<DemoResources> {
  const files = await startDemoResource({ name: 'Demo files', issuer: config.issuer, scopes: ['files:read'], writeScope: 'files:write' });
  const calendar = await startDemoResource({ name: 'Demo calendar', issuer: config.issuer, scopes: ['calendar:read'] });
  const started: [DemoResource, string, string[]][] = [
    [files, 'Demo files', ['files:read', 'files:write']],
    [calendar, 'Demo calendar', ['calendar:read']],
  ];
  const settings = config.authorizationServer;
  for (const [server, name, scopes] of started) settings.resourceServers.push({ identifier: server.resource, name, scopes, accessTokenTtl: 600 });
  settings.registration.open = true;
  settings.clientIdMetadataDocument.enabled = true;
  logger.info({ resources: started.map(([server]) => server.resource) }, 'demo MCP resources started; open registration and metadata documents on (development)');
  return {
    resources: started.map(([server, name]) => ({ name, resource: server.resource, metadataUrl: server.metadataUrl })),
    async close() {
      await Promise.all([files.close(), calendar.close()]);
    },
  };
}
