// Entry point: load the configuration, build the app, listen, and shut down cleanly on SIGTERM / SIGINT.
import { createServer } from 'node:http';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { processEnv } from './config/env.js';
import { ConfigError } from './config/issues.js';
import { loadConfig } from './config/load.js';
import { printDemoBanner, startDemoUpstreams } from './demo/dev-mode.js';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  let config;
  try {
    config = await loadConfig({ env: processEnv() });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`vestibule: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = pino({ level: config.logLevel });
  for (const warning of config.warnings) logger.warn(`development default in use: ${warning}`);
  const demo = config.demo ? await startDemoUpstreams(config, logger) : undefined;
  const broker = await buildApp(config, { logger });
  const server = createServer(broker.app.callback());
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  logger.info({ issuer: config.issuer, host: config.host, port: config.port, store: config.store.type, providers: config.providers.map((p) => p.id) }, 'vestibule listening');
  if (config.demo) printDemoBanner(config, demo);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown took too long, exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    server.close(async () => {
      await broker.close();
      await demo?.close();
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`vestibule: failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
