// Maps the `type` of a providers/*.json file to a factory that validates its own config; the core imports no concrete connector.
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { Connector } from './connector.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { KeyValueStore } from '../store/store.js';
import { localConnectorFactory } from './local.js';
import { oidcConnectorFactory } from './oidc.js';
import { samlConnectorFactory } from './saml.js';

/** What a factory may use when it builds a connector. */
export interface ConnectorContext {
  /** The broker's issuer URL, without trailing slash. */
  issuer: string;
  store: KeyValueStore;
  logger: Logger;
  /** Injected clock, ms since epoch. */
  now: () => number;
  /** Directory of the provider file, for resolving relative paths inside it. */
  baseDir: string;
  /** Timeout for any upstream HTTP call, ms. */
  httpTimeoutMs: number;
  production: boolean;
  /** The fetch for upstream HTTP calls (metrics time it); default the global fetch. */
  fetch?: typeof fetch;
  /** This instance's circuit breaker for a connector's upstream calls (src/connectors/circuit-breaker.ts); none when absent. */
  circuitBreaker?: (connectorId: string) => CircuitBreaker;
}

export interface ConnectorFactory<S extends z.ZodType = z.ZodType> {
  readonly type: string;
  /** Validates the provider's `config` object; every bad field is reported with its path. */
  readonly configSchema: S;
  create(
    base: { id: string; name: string; domains: string[] },
    config: z.output<S>,
    context: ConnectorContext,
  ): Promise<Connector>;
}

const factories = new Map<string, ConnectorFactory>();

export function registerConnectorType(factory: ConnectorFactory): void {
  factories.set(factory.type, factory);
}

export function connectorFactory(type: string): ConnectorFactory | undefined {
  return factories.get(type);
}

export function connectorTypes(): string[] {
  return [...factories.keys()];
}

registerConnectorType(localConnectorFactory as unknown as ConnectorFactory);
registerConnectorType(oidcConnectorFactory as unknown as ConnectorFactory);
registerConnectorType(samlConnectorFactory as unknown as ConnectorFactory);
