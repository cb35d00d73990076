// `vestibule accounts show <accountId>`: the account's record (connector, claims), its live sessions, its lock and its smart-lockout sign-in locks.
import { isoDate, output, parseOptions, problem, type AdminCommand } from './command.js';
import { SIGN_IN_ORIGINS } from '../session/account-locks.js';
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
      const [record, held, sessions] = await Promise.all([deployment.sessions.account(accountId), deployment.locks.held(accountId), sessionViews(deployment, accountId)]);
      const lock = held.account;
      if (!record && !lock && !held.familiar && !held.unfamiliar) return problem(json, 'no_such_account', `no account ${accountId} in the store`);
      const lockView = lock && { reason: lock.reason, lockedAt: isoDate(lock.lockedAt), expiresAt: isoDate(lock.expiresAt) };
      // Smart lockout: sign-in refused from one origin only (unlock lifts these too).
      const signInLocks = SIGN_IN_ORIGINS.flatMap((origin) => {
        const originLock = held[origin];
        return originLock ? [{ origin, reason: originLock.reason, lockedAt: isoDate(originLock.lockedAt), expiresAt: isoDate(originLock.expiresAt) }] : [];
      });
      output(json, { accountId, connectorId: record?.connectorId, claims: record?.claims, updatedAt: isoDate(record?.updatedAt), locked: lockView ?? false, signInLocks, sessions }, () => [
        `account ${accountId}${record ? ` (connector ${record.connectorId}, last sign-in ${isoDate(record.updatedAt)})` : ''}`,
        ...(record ? [`claims: ${JSON.stringify(record.claims)}`] : []),
        lockView ? `LOCKED since ${lockView.lockedAt}${lockView.expiresAt ? ` until ${lockView.expiresAt}` : ''}: ${lock?.reason}` : 'not locked',
        ...signInLocks.map((view) => `sign-in from ${view.origin} devices locked since ${view.lockedAt} until ${view.expiresAt}: ${view.reason}`),
        `${sessions.length} live session(s)${sessions.map((s) => `\n  ${s.sessionId}  ${s.connectorId}  created ${s.createdAt}`).join('')}`,
      ]);
      return 0;
    });
  },
};
