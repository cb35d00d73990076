// `vestibule accounts reset-factors <accountId> [--factor <id>]`: removes second factors (a lost phone or key), audited.
import { output, parseOptions, problem, type AdminCommand } from './command.js';
import { credentialsOf } from './accounts-factors.js';
import { withDeployment } from './deployment.js';

export const accountsResetFactors: AdminCommand = {
  path: 'accounts reset-factors',
  summary: "remove an account's second factors (all, or one with --factor); exit 1 when there was none",
  usage:
    'usage: vestibule accounts reset-factors <accountId> [--factor <factorId>] [--json]\n' +
    'The user enrols anew at the next sign-in that needs a second factor, which the enrolment rules allow only at low risk.\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, { factor: { type: 'string' } }, { min: 1, max: 1 });
    const json = values.json === true;
    const accountId = positionals[0] as string;
    const factorId = typeof values.factor === 'string' ? values.factor : undefined;
    return withDeployment(json, async (deployment) => {
      const credentials = credentialsOf(deployment);
      const removed = factorId === undefined ? await credentials.removeAll(accountId) : (await credentials.remove(accountId, factorId)) ? 1 : 0;
      if (removed === 0) return problem(json, 'no_factor', factorId ? `${accountId} has no factor ${factorId}` : `${accountId} has no second factor`);
      deployment.auditor.record({ event: 'mfa.removed', outcome: 'success', level: 'warn', reason: 'admin', accountId, details: { removed, ...(factorId ? { factorId } : {}) } });
      output(json, { accountId, removed }, () => [`removed ${removed} second factor(s) of ${accountId}`]);
      return 0;
    });
  },
};
