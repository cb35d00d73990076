// The admin command line `vestibule <command>`: finds the command (one per file in src/admin/), handles --help at every level and usage errors (exit 2).
import { accountsFactors } from './admin/accounts-factors.js';
import { accountsLock } from './admin/accounts-lock.js';
import { accountsResetFactors } from './admin/accounts-reset-factors.js';
import { accountsShow } from './admin/accounts-show.js';
import { accountsUnlock } from './admin/accounts-unlock.js';
import { AUDIT_VERIFY_USAGE, auditVerify } from './admin/audit-verify.js';
import { checkConfig } from './admin/check-config.js';
import { clientsAdd } from './admin/clients-add.js';
import { clientsDisable } from './admin/clients-disable.js';
import { clientsIatCreate, clientsIatList, clientsIatRevoke } from './admin/clients-iat.js';
import { clientsList } from './admin/clients-list.js';
import { clientsRemove } from './admin/clients-remove.js';
import { clientsRotateSecret } from './admin/clients-rotate-secret.js';
import { clientsShow } from './admin/clients-show.js';
import { UsageError, type AdminCommand } from './admin/command.js';
import { configSchema } from './admin/config-schema.js';
import { generateJwks } from './admin/generate-jwks.js';
import { generateSecret } from './admin/generate-secret.js';
import { hashPasswordCommand } from './admin/hash-password.js';
import { isGroup, listing } from './admin/help.js';
import { keysList } from './admin/keys-list.js';
import { keysRotate } from './admin/keys-rotate.js';
import { sessionsList } from './admin/sessions-list.js';
import { sessionsRevoke } from './admin/sessions-revoke.js';

const COMMANDS: readonly AdminCommand[] = [
  checkConfig,
  hashPasswordCommand,
  configSchema,
  generateJwks,
  generateSecret,
  keysList,
  keysRotate,
  sessionsList,
  sessionsRevoke,
  accountsShow,
  accountsLock,
  accountsUnlock,
  clientsList,
  clientsShow,
  clientsAdd,
  clientsDisable,
  clientsRemove,
  clientsRotateSecret,
  clientsIatCreate,
  clientsIatList,
  clientsIatRevoke,
  accountsFactors,
  accountsResetFactors,
  { path: 'audit verify', summary: 'check audit files or a Redis stream against their hash chains; exit 1 names the first broken record', usage: AUDIT_VERIFY_USAGE, run: auditVerify },
];

const wantsHelp = (args: readonly string[]) => args.includes('--help') || args.includes('-h');

async function run(argv: readonly string[]): Promise<number> {
  const command = COMMANDS.find((candidate) => candidate.path.split(' ').every((word, index) => argv[index] === word));
  if (!command) {
    const words = argv.filter((arg) => !arg.startsWith('-'));
    const group = isGroup(COMMANDS, words[0] ?? '') ? (words[0] as string) : '';
    if (wantsHelp(argv) && (argv.length === 1 || group)) {
      process.stdout.write(listing(COMMANDS, group));
      return 0;
    }
    const unknown = (group ? words.slice(1, 2) : words.slice(0, 1)).join(' ').slice(0, 64);
    const said = unknown ? `unknown command "${[group, unknown].filter(Boolean).join(' ')}"` : 'a command is needed';
    process.stderr.write(`vestibule${group ? ` ${group}` : ''}: ${said}\n${listing(COMMANDS, group)}`);
    return 2;
  }
  const args = argv.slice(command.path.split(' ').length);
  if (wantsHelp(args)) {
    process.stdout.write(`${command.summary}\n${command.usage}`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`vestibule ${command.path}: ${error.message}\n${command.usage}`);
    return 2;
  }
}

process.exitCode = await run(process.argv.slice(2));
