// One view over every client: configured ones (the configuration file) and registered ones (the store); metadata-document clients live in oidc-provider's cache only.
import type { ClientConfig } from '../config/schema.js';
import type { RegisteredClients, RegistrationOrigin } from './registered-clients.js';

export interface ClientSummary {
  clientId: string;
  /** Where it comes from: the configuration, or how it was registered. */
  source: 'config' | RegistrationOrigin;
  name?: string;
  redirectUris: string[];
  authMethod: string;
  grantTypes: string[];
  scope?: string;
  disabled: boolean;
  createdAt?: number;
  /** Open registrations: removed when unused this long after their last use (ms). */
  unusedTtlMs?: number;
}

function fromConfig(client: ClientConfig): ClientSummary {
  return {
    clientId: client.clientId,
    source: 'config',
    ...(client.name ? { name: client.name } : {}),
    redirectUris: client.redirectUris,
    authMethod: client.public ? 'none' : (client.tokenEndpointAuthMethod ?? 'client_secret_basic'),
    grantTypes: ['authorization_code', 'refresh_token', ...(client.deviceFlow ? ['urn:ietf:params:oauth:grant-type:device_code'] : [])],
    scope: client.scopes.join(' '),
    disabled: false,
  };
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);

export class ClientRepository {
  private readonly configured: Map<string, ClientConfig>;

  constructor(
    configured: readonly ClientConfig[],
    readonly registered: RegisteredClients,
  ) {
    this.configured = new Map(configured.map((client) => [client.clientId, client]));
  }

  isConfigured(clientId: string): boolean {
    return this.configured.has(clientId);
  }

  async get(clientId: string): Promise<ClientSummary | undefined> {
    const configured = this.configured.get(clientId);
    if (configured) return fromConfig(configured);
    const stored = await this.registered.get(clientId);
    if (!stored) return undefined;
    const { metadata, meta } = stored;
    return {
      clientId,
      source: meta.origin,
      ...(typeof metadata.client_name === 'string' ? { name: metadata.client_name } : {}),
      redirectUris: strings(metadata.redirect_uris),
      authMethod: String(metadata.token_endpoint_auth_method ?? 'client_secret_basic'),
      grantTypes: strings(metadata.grant_types),
      ...(typeof metadata.scope === 'string' ? { scope: metadata.scope } : {}),
      disabled: meta.disabled === true,
      ...(meta.createdAt ? { createdAt: meta.createdAt } : {}),
      ...(meta.unusedTtlMs ? { unusedTtlMs: meta.unusedTtlMs } : {}),
    };
  }

  async list(): Promise<ClientSummary[]> {
    const registered = await this.registered.list();
    const summaries = await Promise.all(registered.map((client) => this.get(client.clientId)));
    return [...[...this.configured.values()].map(fromConfig), ...summaries.filter((summary): summary is ClientSummary => summary !== undefined)];
  }
}
