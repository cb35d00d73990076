// Builds the Shared Signals parts the configuration asks for (receiver, pollers, transmitter) and mounts their routes; app.ts calls this once.
import type Router from '@koa/router';
import { importJWK, type JWK } from 'jose';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Auditor } from '../audit/auditor.js';
import type { SsfConfig } from '../config/ssf-schema.js';
import { ssfReceiverRoutes } from '../http/routes/ssf-receiver.js';
import { ssfTransmitterRoutes } from '../http/routes/ssf-transmitter.js';
import type { FederatedSession, SessionRepository } from '../session/federated-session.js';
import type { StepUpDemands } from '../session/step-up-demand.js';
import type { EndReason, TerminateSession } from '../session/terminate.js';
import type { KeyValueStore } from '../store/store.js';
import { SsfPoller } from './poller.js';
import { createPushClient } from './push-endpoint.js';
import { SsfReceiver } from './receiver.js';
import { StreamRepository } from './streams.js';
import { SsfTransmitter, type SigningKey } from './transmitter.js';

export interface SsfDeps {
  config: SsfConfig;
  issuer: string;
  production: boolean;
  /** Provider ids configured now (a receiver for another is a configuration error). */
  providerIds: readonly string[];
  store: KeyValueStore;
  sessions: SessionRepository;
  terminate: TerminateSession;
  stepUps: StepUpDemands;
  auditor: Pick<Auditor, 'record'>;
  logger: Logger;
  now: () => number;
  httpTimeoutMs: number;
  /** The issuer's private signing keys (oidc-provider signs with the first of an alg). */
  keys: readonly JWK[];
  /** How long a grant's SSF target is kept, ms. */
  grantTtlMs: number;
}

export interface Ssf {
  receiver: SsfReceiver;
  pollers: SsfPoller[];
  transmitter?: SsfTransmitter;
  /** Mounts the receiver's push endpoint and, when the transmitter is on, its configuration and stream API. */
  routes(router: Router, provider: Provider): void;
  /** Starts polling the upstreams configured for poll delivery. */
  start(): void;
  /** terminate()'s subscriber. */
  sessionEnded(session: FederatedSession, grantIds: readonly string[], reason: EndReason): Promise<void>;
  close(): Promise<void>;
}

/** The key SETs are signed with: the issuer's first ES256 key (else its first RS256 key), as oidc-provider picks. */
function signingKeyOf(keys: readonly JWK[]): () => Promise<SigningKey> {
  const jwk = keys.find((key) => key.alg === 'ES256' && key.d) ?? keys.find((key) => key.d);
  if (!jwk) throw new Error('ssf.transmitter: the issuer has no private signing key');
  const alg = jwk.alg ?? (jwk.kty === 'EC' ? 'ES256' : 'RS256');
  let imported: Promise<SigningKey> | undefined;
  return () => (imported ??= importJWK(jwk, alg).then((key) => ({ key: key as SigningKey['key'], alg, ...(jwk.kid ? { kid: jwk.kid } : {}) })));
}

export function createSsf(deps: SsfDeps): Ssf {
  const { config } = deps;
  const problems = config.receivers.filter((receiver) => !deps.providerIds.includes(receiver.provider)).map((receiver) => `ssf.receivers: no provider "${receiver.provider}"`);
  if (deps.production && config.transmitter.allowHttpEndpoints) problems.push('ssf.transmitter.allowHttpEndpoints: refused when NODE_ENV=production');
  if (problems.length > 0) throw new Error(problems.join('; '));

  const receiver = new SsfReceiver(deps, config.receivers);
  const pollers = config.receivers
    .filter((settings) => settings.pollUrl)
    .map((settings) => new SsfPoller({ receiver, config: settings, logger: deps.logger.child({ module: 'ssf-poll' }), httpTimeoutMs: deps.httpTimeoutMs }));
  const streams = new StreamRepository(deps.store);
  let transmitter: SsfTransmitter | undefined;

  return {
    receiver,
    pollers,
    get transmitter() {
      return transmitter;
    },
    routes(router, provider) {
      ssfReceiverRoutes(router, receiver, deps.logger);
      if (!config.transmitter.enabled) return;
      const settings = config.transmitter;
      transmitter = new SsfTransmitter({
        provider,
        store: deps.store,
        streams,
        push: createPushClient({
          allowHttp: settings.allowHttpEndpoints,
          allowPrivate: settings.allowPrivateEndpoints,
          timeoutMs: settings.pushTimeoutMs,
          maxResponseBytes: settings.pushMaxResponseBytes,
        }),
        auditor: deps.auditor,
        logger: deps.logger.child({ module: 'ssf-transmitter' }),
        issuer: deps.issuer,
        signingKey: signingKeyOf(deps.keys),
        now: deps.now,
        retryDelaysMs: settings.pushRetrySeconds.map((seconds) => seconds * 1000),
        ttlMs: deps.grantTtlMs,
      });
      ssfTransmitterRoutes(router, { provider, issuer: deps.issuer, streams, transmitter, auditor: deps.auditor, settings, now: deps.now });
    },
    start() {
      for (const poller of pollers) poller.start();
    },
    async sessionEnded(session, grantIds, reason) {
      await transmitter?.sessionEnded(session, grantIds, reason);
    },
    async close() {
      await Promise.all(pollers.map((poller) => poller.stop()));
      await transmitter?.close();
    },
  };
}
