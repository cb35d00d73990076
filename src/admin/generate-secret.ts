// `vestibule generate-secret`: prints 32 random bytes (base64url), for cookieKeys, vaultKeys and client secrets.
import { randomBytes } from 'node:crypto';
import { output, parseOptions, type AdminCommand } from './command.js';

export const generateSecret: AdminCommand = {
  path: 'generate-secret',
  summary: 'print 32 random bytes, base64url (cookieKeys, vaultKeys, client secrets)',
  usage: 'usage: vestibule generate-secret [--json]\n',
  async run(args) {
    const json = parseOptions(args, {}, { min: 0, max: 0 }).values.json === true;
    const secret = randomBytes(32).toString('base64url');
    output(json, { secret }, () => [secret]);
    return 0;
  },
};
