// `vestibule accounts unlock <accountId>`: lifts the lock; the account can sign in again (its ended sessions stay ended).
import { output, parseOptions, problem, type AdminCommand } from './command.js';
import { withDeployment } from './deployment.js';

export const accountsUnlock: AdminCommand = {
  path: 'accounts unlock',
  summary: 'lift the lock of an account; exit 1 when it was not locked',
  usage: 'usage: vestibule accounts unlock <accountId> [--json]\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, {}, { min: 1, max: 1 });
    const json = values.json === true;
    const accountId = positionals[0] as string;
    return withDeployment(json, async ({ locks, auditor }) => {
      if (!(await locks.unlock(accountId))) return problem(json, 'not_locked', `${accountId} is not locked`);
      auditor.record({ event: 'account.unlocked', outcome: 'success', reason: 'admin', accountId });
      output(json, { accountId, locked: false }, () => [`unlocked ${accountId}`]);
      return 0;
    });
  },
};
