// `vestibule accounts show <accountId>`: the account's record (connector, claims), its live sessions and its lock.
import { isoDate, output, parseOptions, problem, type AdminCommand } from './command.js';
import { withDeployment } from './deployment.js';
import { sessionViews } from './sessions-list.js';

export const accountsShow: AdminCommand = {
  path: 'accounts show',
  summary: 'show an account: connector, claims, live sessions, lock; exit 1 when the broker has never seen it',
  usage: 'usage: vestibule accounts show <accountId> [--json]\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, {}, { min: 1, max: 1 });
    const json = values.json === true;
    const accountId = positionals[0] as string;
    return withDeployment(json, async (deployment) => {
      const [record, lock, sessions] = await Promise.all([deployment.sessions.account(accountId), deployment.locks.get(accountId), sessionViews(deployment, accountId)]);
      if (!record && !lock) return problem(json, 'no_such_account', `no account ${accountId} in the store`);
      const lockView = lock && { reason: lock.reason, lockedAt: isoDate(lock.lockedAt), expiresAt: isoDate(lock.expiresAt) };
      output(json, { accountId, connectorId: record?.connectorId, claims: record?.claims, updatedAt: isoDate(record?.updatedAt), locked: lockView ?? false, sessions }, () => [
        `account ${accountId}${record ? ` (connector ${record.connectorId}, last sign-in ${isoDate(record.updatedAt)})` : ''}`,
        ...(record ? [`claims: ${JSON.stringify(record.claims)}`] : []),
        lockView ? `LOCKED since ${lockView.lockedAt}${lockView.expiresAt ? ` until ${lockView.expiresAt}` : ''}: ${lock?.reason}` : 'not locked',
        `${sessions.length} live session(s)${sessions.map((s) => `\n  ${s.sessionId}  ${s.connectorId}  created ${s.createdAt}`).join('')}`,
      ]);
      return 0;
    });
  },
};
