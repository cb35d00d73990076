// `vestibule hash-password`: reads a password (not echoed on a terminal, or from stdin) and prints its argon2id hash for a local user.
import { hashPassword } from '../connectors/local.js';
import { output, parseOptions, problem, type AdminCommand } from './command.js';

async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  process.stderr.write('Password (not echoed): ');
  stdin.setRawMode(true);
  return new Promise((resolve) => {
    let value = '';
    stdin.on('data', (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write('\n');
          return resolve(value);
        }
        if (char === '\u0003') process.exit(130);
        value = char === '\u007f' ? value.slice(0, -1) : value + char;
      }
    });
  });
}

export const hashPasswordCommand: AdminCommand = {
  path: 'hash-password',
  summary: "print the argon2id hash of a password read from the terminal or stdin (a local user's passwordHash)",
  usage: 'usage: vestibule hash-password [--json] < password\n',
  async run(args) {
    const json = parseOptions(args, {}, { min: 0, max: 0 }).values.json === true;
    const password = await readPassword();
    if (password.length < 8) return problem(json, 'password_too_short', 'refusing: a password needs at least 8 characters');
    const hash = await hashPassword(password);
    output(json, { hash }, () => [hash]);
    return 0;
  },
};
