// Wires the modules together into one Koa application (oidc-provider is the Koa app); no logic of its own.
import Router from '@koa/router';
import type Provider from 'oidc-provider';
import { pino, type Logger } from 'pino';
import { Auditor } from './audit/auditor.js';
import type { AuditSink } from './audit/events.js';
import { chainId } from './audit/chain.js';
import { createAuditSinks } from './audit/sinks.js';
import type { BrokerConfig } from './config/load.js';
import type { Connector } from './connectors/connector.js';
import { connectorFactory } from './connectors/registry.js';
import type { BrokerContext } from './context.js';
import { LoginThrottle } from './federation/login-throttle.js';
import { Transactions } from './federation/transactions.js';
import { clientAddress, fromTrustedProxy, proxyTrust } from './http/client-ip.js';
import { errorHandler } from './http/errors.js';
import { upstreamDownPage } from './http/upstream-down-page.js';
import { requestContext } from './http/request-context.js';
import { rateLimit } from './http/rate-limit.js';
import { clientSecrets } from './http/rate-limit-client.js';
import { createStaticCache } from './http/static-cache.js';
import { callbackRoutes } from './http/routes/callback.js';
import { readinessRoute } from './http/routes/health.js';
import { interactionRoutes } from './http/routes/interaction.js';
import { mfaRoutes } from './http/routes/mfa.js';
import { accountSecurityRoutes } from './http/routes/account-security.js';
import { assetRoutes } from './http/routes/assets.js';
import { createAuthorizationJudge } from './federation/authorization-check.js';
import { createMfaServices } from './federation/mfa-services.js';
import type { JudgeAuthorization } from './issuer/interaction-policy.js';
import { createRiskEngine, loadRiskResources } from './risk/engine.js';
import { createSoarSink } from './risk/soar-webhook.js';
import { createSessionRiskReevaluation } from './risk/session-reevaluation.js';
import { logoutRoutes } from './http/routes/logout.js';
import { samlRoutes } from './http/routes/saml.js';
import { backchannelLogoutRoutes } from './http/routes/backchannel-logout.js';
import { endSessionsForUpstream } from './federation/upstream-logout.js';
import { upstreamLogout } from './federation/logout.js';
import { securityHeaders } from './http/security-headers.js';
import { createRenderer } from './http/views.js';
import { auditProviderEvents } from './issuer/audit-events.js';
import { loadSigningKeys } from './issuer/keys.js';
import { createIssuer } from './issuer/provider.js';
import { singleUse } from './issuer/single-use.js';
import { AccountLocks } from './session/account-locks.js';
import { SessionRepository } from './session/federated-session.js';
import { bindingTtlMs, GrantBindings } from './session/grant-bindings.js';
import { createTerminator } from './session/terminate.js';
import { createGrantRevoker, createOidcAdapter } from './store/oidc-adapter.js';
import { createTokenVault } from './session/vault.js';
import { checkSession, reverifyAccount, type ReverifyDeps } from './session/reverify.js';
import { ReverifyScheduler } from './session/scheduler.js';
import { createTrafficGauge } from './session/traffic-gauge.js';
import { authorizationUse, createLazyCheck, liveAfterLazyCheck } from './session/lazy-check.js';
import { StepUpDemands } from './session/step-up-demand.js';
import { createSsf, type Ssf } from './ssf/index.js';
import { BackchannelLogout } from './issuer/backchannel-logout.js';
import { createStore } from './store/create-store.js';
import type { KeyValueStore } from './store/store.js';
import { AuditTail } from './demo/audit-tail.js';
import { demoRoutes } from './demo/relying-party.js';
import { MetricsAuditSink } from './observability/audit-sink.js';
import { metricsRoute } from './observability/main-port.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { instrumentStore } from './observability/store-metrics.js';
import { connectorFetch } from './observability/upstream-fetch.js';
import { circuitBreakers } from './connectors/circuit-report.js';
import type { CircuitState } from './connectors/circuit-breaker.js';
import { tracingMiddleware } from './observability/tracing.js';
import { createClientRegistration } from './clients/setup.js';
import type { Resolver } from './outbound/guarded-agent.js';
import { auditClientEvents } from './issuer/client-audit-events.js';
import { deviceFlowPages } from './issuer/device-pages.js';
import { cacheDocumentClients } from './issuer/document-client-cache.js';
import { registrationGate } from './http/registration-gate.js';
import { authorizationServerMetadata } from './http/routes/as-metadata.js';

export interface AppDeps {
  logger?: Logger;
  store?: KeyValueStore;
  now?: () => number;
  /** Extra audit sinks (tests capture events here). */
  auditSinks?: AuditSink[];
  /** The process's metrics (main.ts keeps one across reloads); default a new registry. */
  metrics?: Metrics;
  /** false: the re-verification sweep does not run on its timer (tests call `scheduler.sweepOnce()`). */
  sweep?: boolean;
  /** Host name resolution of outbound fetches of metadata documents (tests map their names to 127.0.0.1). */
  outboundResolver?: Resolver;
  /** Extra CA certificates (PEM) trusted by those fetches (tests serve documents over https on loopback). */
  outboundCa?: string;
}

export interface BrokerApp {
  /** The Koa application: pass `app.callback()` to http.createServer. */
  app: Provider;
  broker: BrokerContext;
  metrics: Metrics;
  /** The re-verification sweep of this instance (stopped by close()). */
  scheduler: ReverifyScheduler;
  /** Back-channel logout deliveries of this instance (retries stop at close()). */
  backchannel: BackchannelLogout;
  /** Shared Signals: the receiver, its pollers and (when enabled) the transmitter. */
  ssf: Ssf;
  /** Which signing keys the issuer serves ("file" for a jwksFile); key-watch.ts rebuilds the app when the store's differ. */
  keysFingerprint: string;
  close(): Promise<void>;
}

/** The value of vestibule_upstream_circuit_state for each circuit state. */
const CIRCUIT_GAUGE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

async function createConnectors(config: BrokerConfig, store: KeyValueStore, logger: Logger, now: () => number, metrics: Metrics, auditor: Auditor): Promise<Map<string, Connector>> {
  const connectors = new Map<string, Connector>();
  const circuitBreaker = circuitBreakers({
    settings: { failureThreshold: config.upstreamCircuit.failureThreshold, cooldownMs: config.upstreamCircuit.cooldownSeconds * 1000 },
    now,
    logger,
    audit: (event) => auditor.record(event),
    setState: (connector, state) => metrics.upstreamCircuit.set({ connector }, CIRCUIT_GAUGE[state]),
  });
  for (const definition of config.providers) {
    const factory = connectorFactory(definition.type)!;
    const connector = await factory.create({ id: definition.id, name: definition.name, domains: definition.domains }, definition.config, {
      issuer: config.issuer,
      store,
      logger: logger.child({ connector: definition.id }),
      now,
      baseDir: definition.baseDir,
      httpTimeoutMs: config.upstreamTimeoutMs,
      production: config.production,
      circuitBreaker,
      ...(config.metrics.enabled || config.tracing ? { fetch: connectorFetch(metrics, definition.id, definition.type, config.tracing) } : {}),
    });
    connectors.set(definition.id, connector);
  }
  return connectors;
}

export async function buildApp(config: BrokerConfig, deps: AppDeps = {}): Promise<BrokerApp> {
  const logger = deps.logger ?? pino({ level: config.logLevel });
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createMetrics({ defaults: config.metrics.enabled });
  const baseStore = deps.store ?? (await createStore(config.store, logger));
  const store = config.metrics.enabled ? instrumentStore(baseStore, metrics) : baseStore;
  const ownsStore = !deps.store;
  const keys = await loadSigningKeys(config, store, now);
  const renderer = createRenderer(config.branding);
  const sinks: AuditSink[] = [...createAuditSinks(config.audit, logger, now), ...(deps.auditSinks ?? [])];
  // The demo's session timeline shows the account's audit records (development demo only).
  const demoAudit = config.demo ? new AuditTail() : undefined;
  if (demoAudit) sinks.push(demoAudit);
  if (config.metrics.enabled) sinks.push(new MetricsAuditSink(metrics, { connectors: config.providers.map((p) => p.id), clients: config.clients.map((c) => c.clientId) }));
  // The SOAR webhook receives risk.high and risk.lockout records (and audits each delivery's outcome).
  const soar = createSoarSink(config.risk, logger);
  if (soar) sinks.push(soar);
  const auditor = new Auditor(sinks, logger, now, chainId(config.audit.instance));
  soar?.attach(auditor);
  const connectors = await createConnectors(config, store, logger, now, metrics, auditor);
  const intervals = new Map(config.providers.map((p) => [p.id, (p.reverifyIntervalSeconds ?? config.session.reverifyIntervalSeconds) * 1000]));
  const intervalOf = (connectorId: string) => intervals.get(connectorId) ?? config.session.reverifyIntervalSeconds * 1000;
  const sessions = new SessionRepository(store, config.tokens.sessionTtl * 1000, intervalOf);
  const vault = createTokenVault({
    store,
    keys: config.vaultKeys,
    now,
    refreshSkewMs: config.session.upstreamRefreshSkewSeconds * 1000,
    ttlMs: config.tokens.sessionTtl * 1000,
    logger,
    auditor,
  });
  const locks = new AccountLocks(store, now);
  const bindings = new GrantBindings(store, bindingTtlMs(config.tokens));
  const adapter = createOidcAdapter(store, config.store.type === 'redis' ? { lostClaimWaitMs: config.store.lostClaimWaitMs } : {});
  const clientRegistration = createClientRegistration({ config, store, adapter, now, resolver: deps.outboundResolver, ca: deps.outboundCa });
  const terminate = createTerminator({
    sessions,
    bindings,
    vault,
    auditor,
    revokeGrant: createGrantRevoker(adapter),
    // Bound once the issuer exists (the logout tokens are signed with its keys).
    notifyClients: async (session, grantIds, reason) => {
      await Promise.all([backchannel?.notify(session, grantIds, reason), ssf?.sessionEnded(session, grantIds, reason)]);
    },
  });
  let backchannel: BackchannelLogout | undefined;
  const clients = new Map(config.clients.map((client) => [client.clientId, client]));
  const risk = createRiskEngine({ config: config.risk, clientRisk: (clientId) => clients.get(clientId)?.risk, store, locks, sessions, terminate, auditor, now, ...(await loadRiskResources(config.risk)) });
  // Bound once the broker context exists (the judge reads the risk engine and the request facts through it).
  let judgeAuthorization: JudgeAuthorization | undefined;
  // A removed connector is allowed for no one; otherwise the client's allow-list decides (none: every provider).
  const providersAllowed = (clientId: string, connectorId: string) => {
    const allowList = clients.get(clientId)?.allowedProviders;
    return connectors.has(connectorId) && (!allowList || allowList.includes(connectorId));
  };
  const reverifyDeps: ReverifyDeps = {
    sessions,
    vault,
    connectors,
    terminate,
    auditor,
    now,
    intervalOf,
    graceMs: config.session.reverifyGraceSeconds * 1000,
    retryMs: config.session.reverifyRetrySeconds * 1000,
    isLocked: (accountId) => locks.isLocked(accountId),
    reevaluateRisk: createSessionRiskReevaluation({ config: config.risk, store, now }),
    // Bound once the SSF transmitter exists: the session's clients with a stream hear of the new level.
    onRiskChange: async (session, previous, current) => {
      await ssf.transmitter?.riskLevelChanged(session, await bindings.grantsOf(session.accountId, session.id), previous, current, 'reverification');
    },
  };
  // Requests in flight: the sweep's paced checks let them go first.
  const traffic = createTrafficGauge();
  const scheduler = new ReverifyScheduler({
    sessions,
    check: (session) => checkSession(reverifyDeps, session),
    now,
    logger: logger.child({ module: 'reverify' }),
    sweepIntervalMs: config.session.sweepIntervalSeconds * 1000,
    batchSize: config.session.sweepBatchSize,
    concurrency: config.session.sweepConcurrency,
    leaseMs: config.session.sweepLeaseSeconds * 1000,
    busy: traffic.busy,
    whenIdle: traffic.whenIdle,
    onSweep: (report) => {
      for (const [outcome, count] of Object.entries(report.outcomes)) if (count > 0) metrics.sweepChecks.inc({ outcome }, count);
      if (report.behind) metrics.sweepsBehind.inc();
    },
  });
  if (deps.sweep !== false) scheduler.start();
  // Bound after terminate (the receiver ends sessions; terminate tells the transmitter).
  const stepUps = new StepUpDemands(store, config.tokens.sessionTtl * 1000);
  const ssf = createSsf({
    config: config.ssf,
    issuer: config.issuer,
    production: config.production,
    providerIds: config.providers.map((p) => p.id),
    store,
    sessions,
    terminate,
    stepUps,
    auditor,
    logger,
    now,
    httpTimeoutMs: config.upstreamTimeoutMs,
    keys: keys.keys,
    grantTtlMs: Math.max(config.tokens.sessionTtl, config.tokens.refreshTokenTtl) * 1000,
  });
  if (deps.sweep !== false) ssf.start();
  const lazyCheck = createLazyCheck({ store, sessions, check: (session) => checkSession(reverifyDeps, session), now });
  const provider = createIssuer({
    config,
    adapter: clientRegistration.adapter,
    clientFeatures: { ...clientRegistration.features, devicePages: deviceFlowPages(renderer) },
    keys: keys.keys,
    sessions,
    bindings,
    locks,
    renderer,
    now,
    providersAllowed,
    judgeAuthorization: (ctx, session) => judgeAuthorization!(ctx, session),
    sessionUsable: (session) => authorizationUse({ lazyCheck, sessions, now }, session),
    reverify: (account, sessions, trigger) => (trigger === 'refresh' ? reverifyAccount(reverifyDeps, account, sessions) : liveAfterLazyCheck(lazyCheck, sessions)),
  });
  auditProviderEvents(provider, auditor);
  auditClientEvents(provider, auditor);
  if (config.authorizationServer.clientIdMetadataDocument.enabled) cacheDocumentClients(provider, config.authorizationServer.clientIdMetadataDocument.cacheMinSeconds, now);
  backchannel = new BackchannelLogout({
    provider,
    store,
    auditor,
    logger,
    clients: new Set(config.clients.filter((client) => client.backchannelLogoutUri).map((client) => client.clientId)),
    ttlMs: Math.max(config.tokens.sessionTtl, config.tokens.refreshTokenTtl) * 1000,
  });
  const proxies = proxyTrust(config.trustProxy);
  const broker: BrokerContext = {
    config,
    provider,
    store,
    connectors,
    clients,
    renderer,
    auditor,
    sessions,
    locks,
    terminate,
    transactions: new Transactions(store, config.tokens.interactionTtl * 1000),
    vault,
    throttle: new LoginThrottle(store, { perUser: config.loginThrottle.perUser, perIp: config.loginThrottle.perIp, windowMs: config.loginThrottle.windowSeconds * 1000 }),
    logger,
    now,
    metrics,
    risk,
    mfa: createMfaServices(config, store, now),
    proxies,
    stepUpDemands: config.ssf.receivers.length > 0 ? stepUps : undefined,
  };
  judgeAuthorization = createAuthorizationJudge(broker);

  const router = new Router();
  readinessRoute(router, store);
  interactionRoutes(router, broker);
  mfaRoutes(router, broker);
  accountSecurityRoutes(router, broker);
  assetRoutes(router);
  callbackRoutes(router, broker);
  logoutRoutes(router, broker);
  samlRoutes(router, { broker, endSessions: endSessionsForUpstream(broker) });
  backchannelLogoutRoutes(router, broker);
  ssf.routes(router, provider);
  if (demoAudit) demoRoutes(router, broker, demoAudit, (session) => checkSession(reverifyDeps, session, { force: true }));

  provider.use(traffic.middleware);
  if (config.tracing) provider.use(tracingMiddleware());
  provider.use(authorizationServerMetadata());
  const staticCache = createStaticCache(['/.well-known/openid-configuration', '/jwks']);
  provider.use(staticCache.serve);
  provider.use(clientAddress(proxies));
  provider.use(requestContext(logger, (ctx) => fromTrustedProxy(ctx, proxies)));
  provider.use(securityHeaders({ https: config.issuer.startsWith('https://') }));
  if (config.metrics.enabled && config.metrics.onMainPort) provider.use(metricsRoute(metrics.registry, config.metrics.token));
  provider.use(errorHandler(renderer));
  provider.use(upstreamDownPage(broker));
  provider.use(rateLimit({ limits: config.rateLimits, store, secrets: clientSecrets(config.clients), renderer, now, onRefused: (route, scope) => metrics.rateLimited.inc({ route, scope }) }));
  provider.use(registrationGate({ registration: config.authorizationServer.registration, scopes: clientRegistration.scopes, tokens: clientRegistration.tokens, verifyStatement: clientRegistration.verifyStatement, auditor }));
  provider.use(singleUse(provider, store));
  provider.use(staticCache.capture);
  provider.use(upstreamLogout(broker));
  provider.use(router.routes());
  provider.use(router.allowedMethods());

  return {
    app: provider,
    broker,
    metrics,
    scheduler,
    backchannel,
    ssf,
    keysFingerprint: keys.fingerprint,
    async close() {
      await scheduler.stop();
      await backchannel.close();
      await ssf.close();
      await Promise.all([...connectors.values()].map((connector) => connector.close?.()));
      await clientRegistration.close();
      await auditor.close();
      if (ownsStore) await store.close();
    },
  };
}
