// `vestibule clients iat create|list|revoke`: initial access tokens for dynamic registration (RFC 7591 §3): single or multi use, expiring.
import { isoDate, output, parseOptions, problem, UsageError, type AdminCommand } from './command.js';
import { parseDuration } from './accounts-lock.js';
import { clientAdmin } from './clients-context.js';
import { withDeployment } from './deployment.js';

export const clientsIatCreate: AdminCommand = {
  path: 'clients iat create',
  summary: 'issue an initial access token for /reg: --uses N (0 = until it expires; default 1), --for 15m|12h|7d (default 24h); printed once',
  usage: 'usage: vestibule clients iat create [--uses <n>] [--for <90s|15m|12h|7d>] [--note <text>] [--json]\n',
  async run(args) {
    const { values } = parseOptions(args, { uses: { type: 'string' }, for: { type: 'string' }, note: { type: 'string' } }, { min: 0, max: 0 });
    const json = values.json === true;
    const uses = values.uses === undefined ? 1 : Number(values.uses);
    if (!Number.isInteger(uses) || uses < 0 || uses > 1_000_000) throw new UsageError('--uses: a whole number, 0 for any number until it expires');
    const ttlSeconds = values.for === undefined ? 86400 : parseDuration(values.for) / 1000;
    if (values.note !== undefined && values.note.length > 200) throw new UsageError('--note: at most 200 characters');
    return withDeployment(json, async (deployment) => {
      const { tokens } = await clientAdmin(deployment);
      const { token, record } = await tokens.create({ ttlSeconds, maxUses: uses, ...(values.note ? { note: values.note } : {}) });
      if (!deployment.config.authorizationServer.registration.enabled) process.stderr.write('note: authorizationServer.registration.enabled is false: /reg does not accept this token until it is enabled\n');
      output(json, { id: record.id, token, maxUses: uses, expiresAt: isoDate(record.expiresAt) }, () => [
        `initial access token ${record.id}: ${uses === 0 ? 'any number of registrations' : `${uses} registration(s)`} until ${isoDate(record.expiresAt)}`,
        `token (shown once): ${token}`,
      ]);
      return 0;
    });
  },
};

export const clientsIatList: AdminCommand = {
  path: 'clients iat list',
  summary: 'list initial access tokens: id, uses, expiry (never the token)',
  usage: 'usage: vestibule clients iat list [--json]\n',
  async run(args) {
    const json = parseOptions(args, {}, { min: 0, max: 0 }).values.json === true;
    return withDeployment(json, async (deployment) => {
      const list = await (await clientAdmin(deployment)).tokens.list();
      const now = Date.now();
      const view = list.map((token) => ({ ...token, createdAt: isoDate(token.createdAt), expiresAt: isoDate(token.expiresAt), expired: token.expiresAt <= now, spent: token.maxUses > 0 && token.used >= token.maxUses }));
      output(json, { tokens: view }, () =>
        view.length === 0
          ? ['no initial access tokens']
          : view.map((token) => `${token.id}  used ${token.used}/${token.maxUses === 0 ? '∞' : token.maxUses}  ${token.expired ? 'expired' : 'expires'} ${token.expiresAt}${token.spent ? '  spent' : ''}${token.note ? `  ${token.note}` : ''}`),
      );
      return 0;
    });
  },
};

export const clientsIatRevoke: AdminCommand = {
  path: 'clients iat revoke',
  summary: 'revoke an initial access token by its id (as listed)',
  usage: 'usage: vestibule clients iat revoke <id> [--json]\n',
  async run(args) {
    const { values, positionals } = parseOptions(args, {}, { min: 1, max: 1 });
    const json = values.json === true;
    const id = positionals[0] as string;
    return withDeployment(json, async (deployment) => {
      if (!(await (await clientAdmin(deployment)).tokens.revoke(id))) return problem(json, 'no_such_token', `no initial access token ${id}`);
      output(json, { id, revoked: true }, () => [`revoked initial access token ${id}`]);
      return 0;
    });
  },
};
