// `vestibule check-config`: validates the configuration (BROKER_CONFIG and the environment) and lists every problem with its path.
import { processEnv } from '../config/env.js';
import { ConfigError } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import { output, parseOptions, type AdminCommand } from './command.js';

export const checkConfig: AdminCommand = {
  path: 'check-config',
  summary: 'validate the configuration (BROKER_CONFIG, environment); exit 1 lists every problem',
  usage: 'usage: vestibule check-config [--json]\n',
  async run(args) {
    const { values } = parseOptions(args, {}, { min: 0, max: 0 });
    const json = values.json === true;
    try {
      const config = await loadConfig({ env: processEnv() });
      const providers = config.providers.map((p) => `${p.id}:${p.type}`);
      output(json, { ok: true, source: config.source, issuer: config.issuer, clients: config.clients.length, providers, store: config.store.type, warnings: config.warnings }, () => [
        `configuration OK (${config.source}): issuer ${config.issuer}, ${config.clients.length} client(s), ${config.providers.length} provider(s) [${providers.join(', ')}], store ${config.store.type}`,
        ...config.warnings.map((warning) => `warning: ${warning}`),
      ]);
      return 0;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (json) process.stdout.write(`${JSON.stringify({ ok: false, problems: error.problems })}\n`);
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
  },
};
