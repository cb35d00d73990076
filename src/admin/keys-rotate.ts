// `vestibule keys rotate`: publishes the next signing keys now; they sign after keys.publishBeforeUseSeconds, and the old keys stay published until their tokens expired.
import { isoDate, output, parseOptions, problem, type AdminCommand } from './command.js';
import { withDeployment } from './deployment.js';
import { keyLine, keyView } from './keys-list.js';

export const keysRotate: AdminCommand = {
  path: 'keys rotate',
  summary: 'publish the next signing keys (they sign after keys.publishBeforeUseSeconds); exit 1 while a next key is pending',
  usage: 'usage: vestibule keys rotate [--force] [--json]\n  --force  add another next key even though one is pending\n',
  async run(args) {
    const { values } = parseOptions(args, { force: { type: 'boolean' } }, { min: 0, max: 0 });
    const json = values.json === true;
    return withDeployment(json, async ({ config, keys, auditor }) => {
      if (config.jwksFile) return problem(json, 'jwks_file', `jwksFile ${config.jwksFile} is configured: rotate by adding the new key to the file, then SIGHUP every instance (see README, Signing keys)`);
      const result = await keys.rotate({ force: values.force === true });
      if (!result.rotated) auditor.record({ event: 'keys.rotated', outcome: 'failure', reason: result.reason });
      if (!result.rotated && result.reason === 'busy') return problem(json, 'busy', 'another rotation holds the key lock; try again in a moment');
      if (!result.rotated) {
        const at = isoDate(result.pending[0]?.activatesAt);
        return problem(json, 'next_pending', `a next key is already published and activates at ${at}; wait for it (or --force)`);
      }
      const activatesAt = isoDate(result.added[0]?.activatesAt) as string;
      auditor.record({ event: 'keys.rotated', outcome: 'success', reason: 'admin', details: { kids: result.added.map((key) => key.kid).join(' '), activatesAt } });
      output(json, { rotated: true, added: result.added.map(keyView) }, () => [
        `published ${result.added.length} next key(s); they sign from ${isoDate(result.added[0]?.activatesAt)}:`,
        ...result.added.map(keyLine),
      ]);
      return 0;
    });
  },
};
