// `vestibule accounts lock <accountId> --reason <text> [--for <duration>]`: no more sign-ins or tokens; its sessions end through terminate().
import { isoDate, output, parseOptions, UsageError, type AdminCommand } from './command.js';
import { withDeployment } from './deployment.js';
import { endAccountSessions } from '../session/terminate.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "15m", "12h", "7d" in ms. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,9})([smhd])$/.exec(text);
  if (!match || Number(match[1]) === 0) throw new UsageError(`--for: "${text.slice(0, 32)}" is not a duration (like 90s, 15m, 12h, 7d)`);
  return Number(match[1]) * (UNITS[match[2] as string] as number) * 1000;
}

export const accountsLock: AdminCommand = {
  path: 'accounts lock',
  summary: 'lock an account (reason, optional expiry): its sessions end, sign-in and its tokens are refused',
  usage: 'usage: vestibule accounts lock <accountId> --reason <text> [--for <90s|15m|12h|7d>] [--json]   (default: until unlocked)\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, { reason: { type: 'string' }, for: { type: 'string' } }, { min: 1, max: 1 });
    const json = values.json === true;
    const reason = values.reason?.trim();
    if (!reason) throw new UsageError('--reason is required (it goes to the audit trail and `accounts show`)');
    if (reason.length > 500) throw new UsageError('--reason: at most 500 characters');
    const forMs = values.for === undefined ? undefined : parseDuration(values.for);
    const accountId = positionals[0] as string;
    return withDeployment(json, async (deployment) => {
      // Lock first: a sign-in finishing meanwhile is refused, so no session escapes the ending below.
      const lock = await deployment.locks.lock(accountId, reason, forMs);
      const ended = await endAccountSessions(deployment, accountId, 'account_locked');
      deployment.auditor.record({
        event: 'account.locked',
        outcome: 'success',
        reason: 'admin',
        accountId,
        details: { note: reason.slice(0, 200), sessionsEnded: ended.length, ...(lock.expiresAt ? { expiresAt: isoDate(lock.expiresAt) as string } : {}) },
      });
      output(json, { accountId, locked: true, reason, expiresAt: isoDate(lock.expiresAt), ended }, () => [
        `locked ${accountId}${lock.expiresAt ? ` until ${isoDate(lock.expiresAt)}` : ' until unlocked'}; ended ${ended.length} session(s)`,
      ]);
      return 0;
    });
  },
};
