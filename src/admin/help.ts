// Help for the admin command line: the command list at the top, a group's commands, one command's usage.
import type { AdminCommand } from './command.js';

/** The commands under `prefix` ("" for all), as the --help listing prints them. */
export function listing(commands: readonly AdminCommand[], prefix: string): string {
  const shown = commands.filter((command) => prefix === '' || command.path.startsWith(`${prefix} `));
  const width = Math.max(...shown.map((command) => command.path.length));
  return [
    `usage: vestibule ${prefix ? `${prefix} ` : ''}<command> [options]   (--help after any command for its options; --json for JSON output)`,
    '',
    ...shown.map((command) => `  ${command.path.padEnd(width)}  ${command.summary}`),
    '',
    'exit codes: 0 ok, 1 a problem found, 2 usage error',
    '',
  ].join('\n');
}

/** True when the words are a command group (`keys`, `sessions`), i.e. some command's path starts with them. */
export function isGroup(commands: readonly AdminCommand[], words: string): boolean {
  return commands.some((command) => command.path.startsWith(`${words} `));
}
