// A demand, set by an upstream's CAEP event, that a session prove itself again (step-up) at its next interaction; the interaction policy reads it.
import type { KeyValueStore } from '../store/store.js';

/** Why the session must step up, and when the upstream said so (ms). */
export interface StepUpDemand {
  /** `assurance_level_change` or `device_compliance_change`. */
  reason: string;
  at: number;
}

// Tagged with the account, like the session's own keys (one Redis Cluster slot per account).
const demandKey = (accountId: string, sessionId: string) => `step-up-demand:{${accountId}}:${sessionId}`;

export class StepUpDemands {
  constructor(
    private readonly store: Pick<KeyValueStore, 'get' | 'set' | 'delete'>,
    /** How long a demand is kept (the session's lifetime), ms. */
    private readonly ttlMs: number,
  ) {}

  demand(accountId: string, sessionId: string, demand: StepUpDemand): Promise<void> {
    return this.store.set(demandKey(accountId, sessionId), demand, this.ttlMs);
  }

  /** The demand on this session, if any: the interaction policy asks for a second factor (or `login`) while it stands. */
  demanded(accountId: string, sessionId: string): Promise<StepUpDemand | undefined> {
    return this.store.get<StepUpDemand>(demandKey(accountId, sessionId));
  }

  /** Called once the step-up succeeded (or the upstream restored the level). */
  clear(accountId: string, sessionId: string): Promise<void> {
    return this.store.delete(demandKey(accountId, sessionId));
  }
}
