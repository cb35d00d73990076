// `vestibule clients remove <clientId>`: deletes a registered client from the store; every instance stops knowing it at once.
import { output, parseOptions, problem, type AdminCommand } from './command.js';
import { onRegisteredClient } from './clients-context.js';

export const clientsRemove: AdminCommand = {
  path: 'clients remove',
  summary: 'delete a registered client from the store (configured clients are removed from the configuration file)',
  usage: 'usage: vestibule clients remove <clientId> [--json]\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, {}, { min: 1, max: 1 });
    const json = values.json === true;
    const clientId = positionals[0] as string;
    return onRegisteredClient(json, clientId, 'remove it', async (clients, deployment) => {
      if (!(await clients.registered.remove(clientId))) return problem(json, 'no_such_client', `no registered client ${clientId}`);
      deployment.auditor.record({ event: 'client.deleted', outcome: 'success', clientId, details: { origin: 'cli' } });
      output(json, { clientId, removed: true }, () => [`removed ${clientId}`]);
      return 0;
    });
  },
};
