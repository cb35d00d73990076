// Counts the outcome of each session check on a refresh: live, ended (the upstream refused) or unavailable (it failed).
import type { AccountRecord } from '../session/federated-session.js';
import { configuredLabel } from './labels.js';
import type { Metrics } from './metrics.js';

export type Reverify = (account: AccountRecord, sessionIds: readonly string[]) => Promise<number>;

/** Wraps reverifyAccount; `connectors` are the configured ids (labels). */
export function countReverifications(reverify: Reverify, metrics: Metrics, connectors: Iterable<string>): Reverify {
  const known = new Set(connectors);
  return async (account, sessionIds) => {
    const connector = configuredLabel(known, account.connectorId);
    try {
      const live = await reverify(account, sessionIds);
      if (live > 0) metrics.reverifications.inc({ connector, outcome: 'live' }, live);
      if (sessionIds.length > live) metrics.reverifications.inc({ connector, outcome: 'ended' }, sessionIds.length - live);
      return live;
    } catch (error) {
      metrics.reverifications.inc({ connector, outcome: 'unavailable' });
      throw error;
    }
  };
}
