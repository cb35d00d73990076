// Entry point: load the configuration, build the app, listen, reload on SIGHUP (and file changes with WATCH_CONFIG), and shut down cleanly on SIGTERM / SIGINT.
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { processEnv } from './config/env.js';
import { ConfigError } from './config/issues.js';
import { loadConfig } from './config/load.js';
import { reloadConfig, type Running } from './reload.js';
import { watchConfigFiles } from './config-watch.js';
import { trackInFlight } from './in-flight.js';
import { trackConnections } from './server-connections.js';
import { createStore } from './store/create-store.js';
import { reloadOnKeyChange } from './key-reload.js';
import { startMetricsServer } from './observability/server.js';

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
  // The development demo (an OIDC and a samlify upstream) is loaded only in development mode: a deployed broker never needs it.
  const devMode = config.demo ? await import('./demo/dev-mode.js') : undefined;
  const demo = devMode ? await devMode.startDemoUpstreams(config, logger) : undefined;
  const store = await createStore(config.store, logger);
  let running: Running = { config, broker: await buildApp(config, { logger, store }) };
  let tracked = trackInFlight(running.broker.app.callback());
  let handler = tracked.handler;
  const limits = config.server;
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // How often the two timeouts above are checked (Node's default, 30 s, would let a slow client outstay them).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    (req, res) => handler(req, res),
  );
  const connections = trackConnections(server, { maxPerAddress: limits.maxConnectionsPerIp });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  logger.info({ issuer: config.issuer, host: config.host, port: config.port, store: config.store.type, providers: config.providers.map((p) => p.id) }, 'vestibule listening');
  const metricsServer = config.metrics.enabled && !config.metrics.onMainPort
    ? await startMetricsServer({ ...config.metrics, registry: () => running.broker.metrics.registry }).catch((error: NodeJS.ErrnoException) => {
        process.stderr.write(`vestibule: metrics listener ${config.metrics.host}:${config.metrics.port}: ${error.code ?? error.message}\n`);
        process.exit(1);
      })
    : undefined;
  if (metricsServer) logger.info({ host: config.metrics.host, port: config.metrics.port, token: config.metrics.token !== undefined }, 'metrics listening at /metrics');
  if (devMode) devMode.printDemoBanner(config, demo);
  const keyWatch = config.jwksFile
    ? undefined
    : await reloadOnKeyChange({
        store,
        logger,
        current: () => running,
        swap: (next) => {
          const previous = tracked;
          running = next;
          tracked = trackInFlight(next.broker.app.callback());
          handler = tracked.handler;
          return previous.drained(server.requestTimeout);
        },
      });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, inFlight: connections.inFlight, timeoutMs: limits.shutdownTimeoutMs }, 'shutting down: draining requests in flight');
    // Closing the store and the app after the drain gets a few seconds of its own.
    setTimeout(() => {
      logger.error('shutdown did not finish within the timeout, exiting');
      process.exit(1);
    }, limits.shutdownTimeoutMs + 5000).unref();
    metricsServer?.close();
    void (async () => {
      const { answered, cut } = await connections.drain(limits.shutdownTimeoutMs);
      if (!answered) {
        logger.error({ inFlight: connections.inFlight }, 'shutdown timeout ran out with requests in flight, exiting');
        process.exit(1);
      }
      if (cut > 0) logger.warn({ connections: cut }, 'shutdown: closed connections whose request headers never completed');
      await keyWatch?.stop();
      stopWatch?.();
      await running.broker.close();
      await store.close();
      await demo?.close();
      logger.info('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // One reload at a time (SIGHUP and the file watch); the old app is closed once the requests it took are answered.
  let reloading = Promise.resolve();
  const reload = (trigger: string) => {
    reloading = reloading.then(async () => {
      try {
        const next = await reloadConfig(running, processEnv(), store, logger, trigger);
        if (!next) return;
        if (stopping) return await next.broker.close();
        const previous = { running, tracked };
        running = next;
        tracked = trackInFlight(next.broker.app.callback());
        handler = tracked.handler;
        await previous.tracked.drained(server.requestTimeout);
        await previous.running.broker.close();
      } catch (error) {
        logger.error({ err: error }, `${trigger}: reload failed; keeping the running configuration`);
        running.broker.broker.auditor.record({ event: 'config.reloaded', outcome: 'failure', reason: 'reload_failed' });
      }
    });
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (config.watchConfig && !processEnv().BROKER_CONFIG) logger.warn('watchConfig: no BROKER_CONFIG file to watch (development configuration)');
  const stopWatch =
    config.watchConfig && processEnv().BROKER_CONFIG
      ? watchConfigFiles({
          configFile: config.source,
          providersDir: resolve(dirname(config.source), config.providersDir),
          onChange: () => reload('file watch'),
          onError: (error, path) => logger.error({ err: error, path }, 'file watch: cannot watch this directory; reload with SIGHUP'),
        })
      : undefined;
}

main().catch((error: unknown) => {
  process.stderr.write(`vestibule: failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
