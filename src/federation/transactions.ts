// Short-lived, one-time login transactions: what the broker must remember between sending a user upstream and the callback.
import { randomBytes } from 'node:crypto';
import type { Identity } from '../connectors/connector.js';
import type { StepUpReason } from '../issuer/interaction-policy.js';
import type { RiskLevel } from '../risk/types.js';
import type { KeyValueStore } from '../store/store.js';

export interface Transaction {
  uid: string;
  connectorId: string;
  clientId: string;
  /** Connector-private data (PKCE verifier, nonce, SAML request id). */
  data: Record<string, unknown>;
  /** Digest of the starting browser's binding cookie: only that browser may complete the login. */
  binding: string;
  createdAt: number;
  /** Present when this round trip re-authenticates an existing session (federation/upstream-reauth.ts), not a new sign-in. */
  reauth?: ReauthTarget;
}

/** The session a re-authentication round trip confirms, the mark it answers, and how it asked (IsPassive or ForceAuthn). */
export interface ReauthTarget {
  accountId: string;
  sessionId: string;
  markAt: number;
  mode: 'passive' | 'force';
}

/** The login result waiting for the browser at /interaction/:uid/finish. */
export interface PendingLogin {
  accountId: string;
  acr?: string;
  amr: string[];
  ts: number;
  sessionId: string;
  /** A passive re-authentication confirmed the existing login: the interaction finishes without a new login (no session rotation, auth_time kept). */
  keepLogin?: boolean;
  /** The sign-in's risk level. */
  riskLevel?: RiskLevel;
  /** The second factor the sign-in's decision asks for before the authorization may go on (client policy, risk, lockout). */
  stepUpReason?: StepUpReason;
}

/** A login verified at a cross-site POST (SAML), waiting for its browser at the same-site completion GET. */
export interface ParkedLogin {
  transaction: Omit<Transaction, 'data'>;
  /** The verified identity, without upstream tokens (those wait in the vault under parkedVaultId(key)); absent when refused. */
  identity?: Omit<Identity, 'upstreamTokens'>;
  upstreamTokensInVault: boolean;
  /** A re-authentication the upstream refused (its error code, e.g. saml_no_passive): the session ends once the browser is checked. */
  refused?: string;
}

/** The vault entry holding a parked login's upstream tokens (encrypted at rest like a session's). */
export const parkedVaultId = (key: string) => `parked-${key}`;

const txKey = (state: string) => `ftx:${state}`;
const resultKey = (uid: string) => `fresult:${uid}`;
const parkedKey = (key: string) => `fparked:${key}`;

export function newState(): string {
  return randomBytes(32).toString('base64url');
}

/** True for values shaped like newState() output (43 base64url characters). */
export function isBrokerState(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}

export class Transactions {
  constructor(
    private readonly store: KeyValueStore,
    private readonly ttlMs: number,
  ) {}

  save(state: string, transaction: Transaction): Promise<void> {
    return this.store.set(txKey(state), transaction, this.ttlMs);
  }

  /** Returns the transaction once; a replayed callback finds nothing. */
  take(state: string): Promise<Transaction | undefined> {
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(state)) return Promise.resolve(undefined);
    return this.store.take<Transaction>(txKey(state));
  }

  /** Parks a verified login for `ttlMs`; returns the one-time key the completion URL carries. */
  async park(login: ParkedLogin, ttlMs: number): Promise<string> {
    const key = newState();
    await this.store.set(parkedKey(key), login, ttlMs);
    return key;
  }

  takeParked(key: string): Promise<ParkedLogin | undefined> {
    if (!isBrokerState(key)) return Promise.resolve(undefined);
    return this.store.take<ParkedLogin>(parkedKey(key));
  }

  saveResult(uid: string, result: PendingLogin): Promise<void> {
    return this.store.set(resultKey(uid), result, this.ttlMs);
  }

  takeResult(uid: string): Promise<PendingLogin | undefined> {
    return this.store.take<PendingLogin>(resultKey(uid));
  }
}
