// `vestibule sessions revoke`: ends one session, or every session of an account, through terminate() (grants revoked, vault emptied, audited).
import { output, parseOptions, problem, UsageError, type AdminCommand } from './command.js';
import { endAccountSessions } from '../session/terminate.js';
import { withDeployment } from './deployment.js';

export const sessionsRevoke: AdminCommand = {
  path: 'sessions revoke',
  summary: "end one session (<accountId> <sessionId>) or all of an account's (--account <id>); its tokens stop working",
  usage: 'usage: vestibule sessions revoke <accountId> <sessionId> [--json]\n       vestibule sessions revoke --account <accountId> [--json]\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, { account: { type: 'string' } }, { min: 0, max: 2 });
    const json = values.json === true;
    if (values.account !== undefined && positionals.length > 0) throw new UsageError('give <accountId> <sessionId> or --account <accountId>, not both');
    if (values.account === undefined && positionals.length !== 2) throw new UsageError('give <accountId> <sessionId>, or --account <accountId>');
    return withDeployment(json, async (deployment) => {
      if (values.account !== undefined) {
        const ended = await endAccountSessions(deployment, values.account, 'admin_revoked');
        output(json, { accountId: values.account, ended }, () => [`ended ${ended.length} session(s) of ${values.account}`]);
        return 0;
      }
      const [accountId, sessionId] = positionals as [string, string];
      const session = await deployment.sessions.get(accountId, sessionId);
      if (!session) return problem(json, 'no_such_session', `no live session ${sessionId} of ${accountId}`);
      await deployment.terminate(session, 'admin_revoked');
      output(json, { accountId, ended: [sessionId] }, () => [`ended session ${sessionId} of ${accountId}`]);
      return 0;
    });
  },
};
