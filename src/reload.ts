// Applies a changed configuration on SIGHUP: validate it, build a new app on the same store, swap it in, close the old one.
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

/** Returns the new running app, or undefined (and logs why) when the current one stays. */
export async function reloadConfig(current: Running, env: Env, store: KeyValueStore, logger: Logger): Promise<Running | undefined> {
  if (!env.BROKER_CONFIG) {
    logger.warn('SIGHUP: no BROKER_CONFIG to reload (development configuration); nothing changed');
    return undefined;
  }
  let config: BrokerConfig;
  try {
    config = await loadConfig({ env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.error({ problems: error.problems }, 'SIGHUP: the new configuration is invalid; keeping the running one');
    return undefined;
  }
  const changed = FIXED.filter((key) => JSON.stringify(config[key]) !== JSON.stringify(current.config[key]));
  if (changed.length > 0) {
    logger.error({ settings: changed }, 'SIGHUP: these settings need a restart; keeping the running configuration');
    return undefined;
  }
  const broker = await buildApp(config, { logger, store, metrics: current.broker.metrics });
  await current.broker.close();
  logger.info({ clients: config.clients.length, providers: config.providers.map((p) => p.id) }, 'SIGHUP: configuration reloaded');
  return { config, broker };
}
