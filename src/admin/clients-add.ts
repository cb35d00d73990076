// `vestibule clients add`: registers a client in the store (every instance sees it at once), held to the registration policy; prints its secret once.
import { randomBytes } from 'node:crypto';
import { applyRegistrationPolicy } from '../clients/registration-policy.js';
import { resourceScopes } from '../clients/config.js';
import { output, parseOptions, problem, UsageError, type AdminCommand } from './command.js';
import { clientAdmin } from './clients-context.js';
import { withDeployment } from './deployment.js';

export const clientsAdd: AdminCommand = {
  path: 'clients add',
  summary: 'register a client in the store (confidential by default, --public for SPAs and native apps); prints its id and secret once',
  usage:
    'usage: vestibule clients add --redirect-uri <uri> [--redirect-uri <uri>…] [--name <text>] [--public] [--scope "<scopes>"] [--device-flow] [--client-id <id>] [--json]\n',
  async run(args) {
    const { values } = parseOptions(
      args,
      { 'redirect-uri': { type: 'string', multiple: true }, name: { type: 'string' }, public: { type: 'boolean' }, scope: { type: 'string' }, 'device-flow': { type: 'boolean' }, 'client-id': { type: 'string' } },
      { min: 0, max: 0 },
    );
    const json = values.json === true;
    const redirectUris = values['redirect-uri'] ?? [];
    if (redirectUris.length === 0) throw new UsageError('at least one --redirect-uri is needed');
    const clientId = values['client-id'] ?? `cli_${randomBytes(12).toString('base64url')}`;
    if (!/^[\x21-\x7e]{1,255}$/.test(clientId) || clientId.startsWith('https://')) throw new UsageError('--client-id: printable ASCII without spaces, and not an https URL (those are metadata documents)');
    return withDeployment(json, async (deployment) => {
      const { clients } = await clientAdmin(deployment);
      if (clients.isConfigured(clientId) || (await clients.get(clientId))) return problem(json, 'client_exists', `a client ${clientId} exists already`);
      const settings = deployment.config.authorizationServer;
      const grantTypes = ['authorization_code', 'refresh_token', ...(values['device-flow'] ? ['urn:ietf:params:oauth:grant-type:device_code'] : [])];
      const checked = applyRegistrationPolicy(
        { redirect_uris: redirectUris, grant_types: grantTypes, token_endpoint_auth_method: values.public ? 'none' : 'client_secret_basic', ...(values.name ? { client_name: values.name } : {}), ...(values.scope ? { scope: values.scope } : {}) },
        { grantTypes, authMethods: ['client_secret_basic', 'none'], scopes: [...settings.registration.scopes, ...resourceScopes(settings.resourceServers), 'groups'], mode: 'token' },
      );
      if (!checked.ok) return problem(json, checked.error, checked.description);
      const secret = values.public ? undefined : randomBytes(32).toString('base64url');
      const metadata = { ...checked.metadata, client_id: clientId, client_id_issued_at: Math.floor(Date.now() / 1000), ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}) };
      await clients.registered.save(clientId, metadata, 'cli');
      deployment.auditor.record({ event: 'client.registered', outcome: 'success', clientId, details: { origin: 'cli' } });
      output(json, { clientId, ...(secret ? { clientSecret: secret } : {}), metadata: { ...metadata, client_secret: undefined } }, () => [
        `registered ${clientId}${values.name ? ` (${values.name})` : ''}`,
        ...(secret ? [`client secret (shown once): ${secret}`] : ['public client: no secret, PKCE required']),
      ]);
      return 0;
    });
  },
};
