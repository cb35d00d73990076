// `vestibule clients show <clientId>`: one client's metadata (never its secret).
import { isoDate, output, parseOptions, problem, type AdminCommand } from './command.js';
import { clientAdmin, clientView } from './clients-context.js';
import { withDeployment } from './deployment.js';

export const clientsShow: AdminCommand = {
  path: 'clients show',
  summary: "show one client's metadata: source, redirect URIs, grant types, scope, state (never its secret)",
  usage: 'usage: vestibule clients show <clientId> [--json]\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, {}, { min: 1, max: 1 });
    const json = values.json === true;
    const clientId = positionals[0] as string;
    return withDeployment(json, async (deployment) => {
      const client = await (await clientAdmin(deployment)).clients.get(clientId);
      if (!client) return problem(json, 'no_such_client', `no client ${clientId}`);
      output(json, clientView(client), () => [
        `client ${client.clientId}${client.name ? ` (${client.name})` : ''}`,
        `  source        ${client.source}${client.createdAt ? `, registered ${isoDate(client.createdAt)}` : ''}`,
        `  state         ${client.disabled ? 'disabled' : 'enabled'}`,
        `  auth method   ${client.authMethod}`,
        `  grant types   ${client.grantTypes.join(' ')}`,
        `  scope         ${client.scope ?? '(default)'}`,
        ...client.redirectUris.map((uri, index) => `  ${index === 0 ? 'redirect URIs' : '             '} ${uri}`),
        ...(client.unusedTtlMs ? [`  expires       when unused for ${Math.round(client.unusedTtlMs / 86400_000)} day(s)`] : []),
      ]);
      return 0;
    });
  },
};
