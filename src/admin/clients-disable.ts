// `vestibule clients disable <clientId> [--enable]`: a disabled registered client is unknown to the issuer (invalid_client) until enabled again.
import { output, parseOptions, problem, type AdminCommand } from './command.js';
import { onRegisteredClient } from './clients-context.js';

export const clientsDisable: AdminCommand = {
  path: 'clients disable',
  summary: 'disable a registered client (its requests and tokens are refused as invalid_client); --enable undoes it',
  usage: 'usage: vestibule clients disable <clientId> [--enable] [--json]\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, { enable: { type: 'boolean' } }, { min: 1, max: 1 });
    const json = values.json === true;
    const clientId = positionals[0] as string;
    const disabled = values.enable !== true;
    return onRegisteredClient(json, clientId, 'remove it', async (clients, deployment) => {
      if (!(await clients.registered.setDisabled(clientId, disabled))) return problem(json, 'no_such_client', `no registered client ${clientId}`);
      deployment.auditor.record({ event: 'client.updated', outcome: 'success', clientId, details: { origin: 'cli', disabled } });
      output(json, { clientId, disabled }, () => [`${disabled ? 'disabled' : 'enabled'} ${clientId}`]);
      return 0;
    });
  },
};
