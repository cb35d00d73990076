// Applies a changed configuration (SIGHUP or the file watch): validate it, build a new app on the same store for the caller to swap in; audits either way.
import type { Logger } from 'pino';
import { buildApp, type BrokerApp } from './app.js';
import type { Env } from './config/env.js';
import { ConfigError } from './config/issues.js';
import { loadConfig, type BrokerConfig } from './config/load.js';
import type { KeyValueStore } from './store/store.js';

/** Settings a running process cannot change: they need a restart. */
const FIXED: (keyof BrokerConfig)[] = ['issuer', 'port', 'host', 'store', 'demo', 'metrics'];

export interface Running {
  config: BrokerConfig;
  broker: BrokerApp;
}

/**
 * Returns the new running app, or undefined (and logs why) when the current one stays. The caller swaps it in, then closes
 * the old app once the requests it took are answered (a sign-in in flight finishes on it; its state is in the store).
 * `trigger` names what asked for the reload in the log (SIGHUP, or the file watch).
 */
export async function reloadConfig(current: Running, env: Env, store: KeyValueStore, logger: Logger, trigger = 'SIGHUP'): Promise<Running | undefined> {
  if (!env.BROKER_CONFIG) {
    logger.warn(`${trigger}: no BROKER_CONFIG to reload (development configuration); nothing changed`);
    return undefined;
  }
  let config: BrokerConfig;
  try {
    config = await loadConfig({ env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.error({ problems: error.problems }, `${trigger}: the new configuration is invalid; keeping the running one`);
    current.broker.broker.auditor.record({ event: 'config.reloaded', outcome: 'failure', reason: 'invalid_configuration', details: { problems: error.problems.length } });
    return undefined;
  }
  // Keys generated at start (development) stay: new ones would void the cookies and vault entries of running sign-ins and sessions.
  if (config.generatedKeys?.includes('cookieKeys')) config.cookieKeys = current.config.cookieKeys;
  if (config.generatedKeys?.includes('vaultKeys')) config.vaultKeys = current.config.vaultKeys;
  const changed = FIXED.filter((key) => JSON.stringify(config[key]) !== JSON.stringify(current.config[key]));
  if (changed.length > 0) {
    logger.error({ settings: changed }, `${trigger}: these settings need a restart; keeping the running configuration`);
    current.broker.broker.auditor.record({ event: 'config.reloaded', outcome: 'failure', reason: 'restart_required', details: { settings: changed.join(' ') } });
    return undefined;
  }
  const broker = await buildApp(config, { logger, store, metrics: current.broker.metrics });
  const previous = current.broker.broker.auditor.instance;
  logger.info({ clients: config.clients.length, providers: config.providers.map((p) => p.id) }, `${trigger}: configuration reloaded`);
  // The new app's chain begins here and names the chain it follows.
  broker.broker.auditor.record({ event: 'config.reloaded', outcome: 'success', details: { clients: config.clients.length, providers: config.providers.map((p) => p.id).join(' '), previousChain: previous } });
  return { config, broker };
}
