// `vestibule clients list`: every client, configured and registered (source, authentication method, disabled).
import { output, parseOptions, type AdminCommand } from './command.js';
import { clientAdmin, clientLine, clientView } from './clients-context.js';
import { withDeployment } from './deployment.js';

export const clientsList: AdminCommand = {
  path: 'clients list',
  summary: 'list the clients: configured ones and those registered in the store (source, auth method, disabled)',
  usage: 'usage: vestibule clients list [--json]\n',
  async run(args) {
    const json = parseOptions(args, {}, { min: 0, max: 0 }).values.json === true;
    return withDeployment(json, async (deployment) => {
      const clients = await (await clientAdmin(deployment)).clients.list();
      output(json, { clients: clients.map(clientView) }, () => (clients.length === 0 ? ['no clients'] : clients.map(clientLine)));
      return 0;
    });
  },
};
