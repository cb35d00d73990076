// The dependencies that routes and login steps share, built once by app.ts.
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Auditor } from './audit/auditor.js';
import type { BrokerConfig } from './config/load.js';
import type { ClientConfig } from './config/schema.js';
import type { Connector } from './connectors/connector.js';
import type { LoginThrottle } from './federation/login-throttle.js';
import type { MfaServices } from './federation/mfa-services.js';
import type { Transactions } from './federation/transactions.js';
import type { ProxyTrust } from './http/client-ip.js';
import type { Renderer } from './http/views.js';
import type { Metrics } from './observability/metrics.js';
import type { AccountLocks } from './session/account-locks.js';
import type { RiskEngine } from './risk/engine.js';
import type { SessionRepository } from './session/federated-session.js';
import type { TerminateSession } from './session/terminate.js';
import type { TokenVault } from './session/vault.js';
import type { KeyValueStore } from './store/store.js';
import type { StepUpDemands } from './session/step-up-demand.js';


export interface BrokerContext {
  config: BrokerConfig;
  provider: Provider;
  store: KeyValueStore;
  connectors: Map<string, Connector>;
  clients: Map<string, ClientConfig>;
  renderer: Renderer;
  auditor: Auditor;
  sessions: SessionRepository;
  /** Locked accounts (admin `accounts lock`): no sign-in, no tokens. */
  locks: AccountLocks;
  /** The one way a federated session ends (grants revoked, vault emptied, audited). */
  terminate: TerminateSession;
  transactions: Transactions;
  vault: TokenVault;
  throttle: LoginThrottle;
  logger: Logger;
  now: () => number;
  /** Prometheus series; e.g. the rate limiter counts refusals with `metrics.rateLimited.inc({ route, scope })`. */
  metrics: Metrics;
  /** Risk-graded access: signals, decision, smart lockout, high-risk action. */
  risk: RiskEngine;
  /** Second factors: credentials and the TOTP and recovery-code factors. */
  mfa: MfaServices;
  /** Which peers are trusted proxies (the device-posture header is believed only from them). */
  proxies: ProxyTrust;
  /** Step-up demands set by upstreams' CAEP events (only when Shared Signals receivers are configured). */
  stepUpDemands?: Pick<StepUpDemands, 'demanded'>;
}
