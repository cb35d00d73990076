// `vestibule generate-jwks`: prints a fresh private JWKS (ES256 + RS256) for the jwksFile setting.
import { generateSigningJwks } from '../issuer/keys.js';
import { parseOptions, type AdminCommand } from './command.js';

export const generateJwks: AdminCommand = {
  path: 'generate-jwks',
  summary: 'print a new private JWKS (ES256 + RS256) for jwksFile',
  usage: 'usage: vestibule generate-jwks [--json]   (the output is JSON either way)\n',
  async run(args) {
    parseOptions(args, {}, { min: 0, max: 0 });
    process.stdout.write(`${JSON.stringify(await generateSigningJwks(), null, 2)}\n`);
    return 0;
  },
};
