// `vestibule accounts factors <accountId>`: the account's second factors (kind, name, enrolled, last used), never a secret.
import { VaultKeyRing } from '../session/vault-crypto.js';
import { CredentialRepository } from '../mfa/credentials.js';
import { isoDate, output, parseOptions, type AdminCommand } from './command.js';
import { withDeployment, type Deployment } from './deployment.js';

/** The deployment's credential repository (the vault keys open nothing here: listing and removal read no secret). */
export const credentialsOf = (deployment: Deployment) => new CredentialRepository(deployment.store, new VaultKeyRing(deployment.config.vaultKeys));

export const accountsFactors: AdminCommand = {
  path: 'accounts factors',
  summary: "list an account's second factors (authenticator apps, passkeys, recovery codes)",
  usage: 'usage: vestibule accounts factors <accountId> [--json]\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, {}, { min: 1, max: 1 });
    const json = values.json === true;
    const accountId = positionals[0] as string;
    return withDeployment(json, async (deployment) => {
      const factors = (await credentialsOf(deployment).list(accountId)).map((factor) => ({
        id: factor.id,
        kind: factor.kind,
        label: factor.label,
        createdAt: isoDate(factor.createdAt),
        lastUsedAt: isoDate(factor.lastUsedAt),
      }));
      output(json, { accountId, factors }, () => [
        `${factors.length} second factor(s) of ${accountId}`,
        ...factors.map((f) => `  ${f.id}  ${f.kind}  ${JSON.stringify(f.label)}  enrolled ${f.createdAt}  last used ${f.lastUsedAt ?? 'never'}`),
      ]);
      return 0;
    });
  },
};
