// `vestibule clients rotate-secret <clientId>`: a new secret for a registered confidential client, printed once; the old one stops working at once.
import { output, parseOptions, problem, type AdminCommand } from './command.js';
import { onRegisteredClient } from './clients-context.js';

export const clientsRotateSecret: AdminCommand = {
  path: 'clients rotate-secret',
  summary: 'give a registered confidential client a new secret (printed once; the old one stops working at once)',
  usage: 'usage: vestibule clients rotate-secret <clientId> [--json]\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, {}, { min: 1, max: 1 });
    const json = values.json === true;
    const clientId = positionals[0] as string;
    return onRegisteredClient(json, clientId, 'change its clientSecret', async (clients, deployment) => {
      const secret = await clients.registered.rotateSecret(clientId);
      if (!secret) return problem(json, 'no_secret', `no registered confidential client ${clientId}`);
      deployment.auditor.record({ event: 'client.updated', outcome: 'success', clientId, details: { origin: 'cli', secretRotated: true } });
      output(json, { clientId, clientSecret: secret }, () => [`new client secret for ${clientId} (shown once): ${secret}`]);
      return 0;
    });
  },
};
