// `vestibule sessions list --account <id>`: an account's live federated sessions with connector, dates and grant count.
import { isoDate, output, parseOptions, UsageError, type AdminCommand } from './command.js';
import { withDeployment, type Deployment } from './deployment.js';

/** The account's live sessions as the admin commands show them. */
export async function sessionViews({ sessions, bindings }: Deployment, accountId: string) {
  const ids = await sessions.sessionsOf(accountId);
  const found = await Promise.all(ids.map((id) => sessions.get(accountId, id)));
  return Promise.all(
    found.flatMap((session) => (session ? [session] : [])).map(async (session) => ({
      sessionId: session.id,
      connectorId: session.connectorId,
      createdAt: isoDate(session.createdAt),
      lastVerifiedAt: isoDate(session.lastVerifiedAt),
      grants: (await bindings.grantsOf(accountId, session.id)).length,
    })),
  );
}

export const sessionsList: AdminCommand = {
  path: 'sessions list',
  summary: "list an account's live sessions",
  usage: 'usage: vestibule sessions list --account <accountId> [--json]\n',
  async run(args) {
    const { values } = parseOptions(args, { account: { type: 'string' } }, { min: 0, max: 0 });
    const json = values.json === true;
    if (!values.account) throw new UsageError('--account is required');
    const accountId = values.account;
    return withDeployment(json, async (deployment) => {
      const views = await sessionViews(deployment, accountId);
      output(json, { accountId, sessions: views }, () =>
        views.length === 0
          ? [`no live sessions for ${accountId}`]
          : views.map((view) => `${view.sessionId}  ${view.connectorId}  created ${view.createdAt}  verified ${view.lastVerifiedAt}  ${view.grants} grant(s)`),
      );
      return 0;
    });
  },
};
