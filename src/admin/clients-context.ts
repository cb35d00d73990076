// What the `vestibule clients …` commands share: the deployment's client repository and initial access tokens, one registered client's command frame, and how a client is printed.
import type { ClientRepository, ClientSummary } from '../clients/repository.js';
import type { InitialAccessTokens } from '../clients/initial-access-tokens.js';
import { isoDate, problem } from './command.js';
import { withDeployment, type Deployment } from './deployment.js';

export interface ClientAdmin {
  clients: ClientRepository;
  tokens: InitialAccessTokens;
}

/** Built on the deployment's store; oidc-provider's modules are loaded here, not at start (their Node 20 warning on every --help). */
export async function clientAdmin(deployment: Deployment): Promise<ClientAdmin> {
  const [{ createOidcAdapter }, { RegisteredClients }, { ClientRepository: Repository }, { InitialAccessTokens: Tokens }] = await Promise.all([
    import('../store/oidc-adapter.js'),
    import('../clients/registered-clients.js'),
    import('../clients/repository.js'),
    import('../clients/initial-access-tokens.js'),
  ]);
  const registered = new RegisteredClients(deployment.store, createOidcAdapter(deployment.store));
  return { clients: new Repository(deployment.config.clients, registered), tokens: new Tokens(deployment.store) };
}

/**
 * The frame of a command on one registered client: the deployment opened, and a client from the configuration file
 * refused (`configuredHint` says where to change it instead); `act` does the rest.
 */
export function onRegisteredClient(json: boolean, clientId: string, configuredHint: string, act: (clients: ClientRepository, deployment: Deployment) => Promise<number>): Promise<number> {
  return withDeployment(json, async (deployment) => {
    const { clients } = await clientAdmin(deployment);
    if (clients.isConfigured(clientId)) return problem(json, 'configured_client', `${clientId} is in the configuration file: ${configuredHint} there (and reload)`);
    return act(clients, deployment);
  });
}

export const clientView = (client: ClientSummary) => ({ ...client, createdAt: isoDate(client.createdAt) });

export const clientLine = (client: ClientSummary) =>
  `${client.clientId}  ${client.source.padEnd(6)}  ${client.authMethod.padEnd(19)}  ${client.disabled ? 'DISABLED  ' : ''}${client.name ?? ''}`.trimEnd();
