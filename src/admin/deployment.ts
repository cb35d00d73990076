// What the admin commands act on: a running deployment's store (BROKER_CONFIG / REDIS_URL) and the session-ending path, without the HTTP app.
import { pino } from 'pino';
import { Auditor } from '../audit/auditor.js';
import { chainId } from '../audit/chain.js';
import { createAuditSinks } from '../audit/sinks.js';
import { StdoutSink } from '../audit/stdout.js';
import { processEnv } from '../config/env.js';
import { ConfigError } from '../config/issues.js';
import { loadConfig, type BrokerConfig } from '../config/load.js';
import { signingKeyStore } from '../issuer/keys.js';
import type { SigningKeyStore } from '../issuer/key-store.js';
import { AccountLocks } from '../session/account-locks.js';
import { SessionRepository } from '../session/federated-session.js';
import { bindingTtlMs, GrantBindings } from '../session/grant-bindings.js';
import { createTerminator, type TerminateSession } from '../session/terminate.js';
import { createTokenVault } from '../session/vault.js';
import { createStore } from '../store/create-store.js';
import type { KeyValueStore } from '../store/store.js';
import { problem } from './command.js';

export interface Deployment {
  config: BrokerConfig;
  store: KeyValueStore;
  sessions: SessionRepository;
  bindings: GrantBindings;
  locks: AccountLocks;
  keys: SigningKeyStore;
  terminate: TerminateSession;
  /** The deployment's audit trail (its file, Redis stream and webhook sinks). */
  auditor: Pick<Auditor, 'record'>;
  close(): Promise<void>;
}

/** Thrown when there is no shared store to administer (exit 1). */
export class NoDeploymentError extends Error {
  override readonly name = 'NoDeploymentError';
}

/** Opens the configured store; the memory store is refused (it belongs to one broker process, not to this command). */
export async function openDeployment(): Promise<Deployment> {
  const config = await loadConfig({ env: processEnv() });
  if (config.store.type === 'memory') throw new NoDeploymentError('the configured store is "memory": there is no shared deployment state to administer (set REDIS_URL or BROKER_CONFIG)');
  // Logs go to stderr; stdout carries the command's output (--json), so the stdout sink's records go to stderr: the
  // terminal of whoever runs the command, and the log of a Kubernetes Job or CronJob that runs it (both streams are kept).
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const store = await createStore(config.store, logger);
  const sinks = createAuditSinks({ ...config.audit, stdout: false }, logger, Date.now);
  if (config.audit.stdout) sinks.push(new StdoutSink(process.stderr));
  const auditor = new Auditor(sinks, logger, Date.now, chainId(`${config.audit.instance}-admin`));
  const intervalOf = () => config.session.reverifyIntervalSeconds * 1000;
  const sessions = new SessionRepository(store, config.tokens.sessionTtl * 1000, intervalOf);
  const bindings = new GrantBindings(store, bindingTtlMs(config.tokens));
  const vault = createTokenVault({ store, keys: config.vaultKeys, now: Date.now, refreshSkewMs: 0, ttlMs: config.tokens.sessionTtl * 1000, logger, auditor });
  // Loaded here, not at the top: importing oidc-provider warns on Node 20, which every --help would print.
  const { createGrantRevoker, createOidcAdapter } = await import('../store/oidc-adapter.js');
  const terminate = createTerminator({ sessions, bindings, vault, auditor, revokeGrant: createGrantRevoker(createOidcAdapter(store)) });
  return {
    config,
    store,
    sessions,
    bindings,
    locks: new AccountLocks(store),
    keys: signingKeyStore(config, store),
    terminate,
    auditor,
    async close() {
      await auditor.close();
      await store.close();
    },
  };
}

/** Runs `work` on the opened deployment and closes it; a missing or invalid configuration is a problem (exit 1). */
export async function withDeployment(json: boolean, work: (deployment: Deployment) => Promise<number>): Promise<number> {
  let deployment: Deployment;
  try {
    deployment = await openDeployment();
  } catch (error) {
    if (error instanceof NoDeploymentError || error instanceof ConfigError) return problem(json, 'no_deployment', error.message);
    throw error;
  }
  try {
    return await work(deployment);
  } finally {
    await deployment.close();
  }
}
