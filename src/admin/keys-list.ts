// `vestibule keys list`: the store's signing keys with kid, alg, state and dates (or that a jwksFile is in use).
import type { KeyStatus } from '../issuer/key-ring.js';
import { isoDate, output, parseOptions, type AdminCommand } from './command.js';
import { withDeployment } from './deployment.js';

export const keyView = (key: KeyStatus) => ({
  kid: key.kid,
  alg: key.alg,
  state: key.state,
  createdAt: isoDate(key.createdAt),
  activatesAt: isoDate(key.activatesAt),
  retiredAt: isoDate(key.retiredAt),
  removeAt: isoDate(key.removeAt),
});

export const keyLine = (key: KeyStatus) =>
  `${key.kid}  ${key.alg.padEnd(5)}  ${key.state.padEnd(7)}  created ${isoDate(key.createdAt)}  activates ${isoDate(key.activatesAt)}` +
  (key.removeAt === undefined ? '' : `  retired ${isoDate(key.retiredAt)}  unpublished after ${isoDate(key.removeAt)}`);

export const keysList: AdminCommand = {
  path: 'keys list',
  summary: 'list the signing keys in the store: kid, alg, state (next / active / retired), dates',
  usage: 'usage: vestibule keys list [--json]\n',
  async run(args) {
    const json = parseOptions(args, {}, { min: 0, max: 0 }).values.json === true;
    return withDeployment(json, async ({ config, keys }) => {
      const statuses = await keys.statuses();
      output(json, { jwksFile: config.jwksFile, keys: statuses.map(keyView) }, () => [
        ...(config.jwksFile ? [`note: jwksFile ${config.jwksFile} is configured: the broker signs with it, not with these keys (rotate by editing the file, then SIGHUP)`] : []),
        ...(statuses.length === 0 ? ['no signing keys in the store yet (the broker creates them at start)'] : statuses.map(keyLine)),
      ]);
      return 0;
    });
  },
};
