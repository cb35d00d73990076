// OpenID Connect Back-Channel Logout 1.0 from terminate(): every client of the ended session with a backchannel_logout_uri gets a logout token signed by the issuer, retried with backoff, each outcome audited.
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Auditor } from '../audit/auditor.js';
import type { FederatedSession } from '../session/federated-session.js';
import type { EndReason } from '../session/terminate.js';
import type { KeyValueStore } from '../store/store.js';
import { waitUnlessAborted } from '../retry-wait.js';

/** Which client a grant belongs to and the `sid` its ID tokens carry; kept under the account's hash tag, like the grant bindings. */
interface LogoutTarget {
  clientId: string;
  sid: string;
}

const targetKey = (accountId: string, grantId: string) => `backchannel:{${accountId}}:${grantId}`;

/** Waits before the 2nd, 3rd, ... attempt: 1 s, 5 s, 30 s, 2 min, 10 min (then the failure is audited and dropped). */
const DEFAULT_RETRY_DELAYS_MS = [1000, 5000, 30_000, 120_000, 600_000];

export interface BackchannelLogoutOptions {
  provider: Provider;
  store: KeyValueStore;
  auditor: Pick<Auditor, 'record'>;
  logger: Logger;
  /** Client ids that registered a backchannel_logout_uri. */
  clients: ReadonlySet<string>;
  /** How long a grant's target is kept (as long as its longest-lived token). */
  ttlMs: number;
  retryDelaysMs?: readonly number[];
}

/**
 * oidc-provider's outgoing fetch. Its guard against requests to private, loopback and link-local addresses stays on,
 * except for the back-channel logout URIs the operator configured: those are trusted configuration (relying parties
 * inside the cluster), not addresses a request supplied.
 */
export function providerFetch(configuredUris: readonly string[]) {
  const trusted = new Set(configuredUris.map((uri) => new URL(uri).href));
  return (url: URL | string, options: RequestInit & { dispatcher?: unknown }): Promise<Response> => {
    if (!trusted.has(new URL(url).href)) return globalThis.fetch(url, options);
    const { dispatcher: _ssrfGuard, ...rest } = options;
    return globalThis.fetch(url, rest);
  };
}

/** The part of oidc-provider's Client used here (its typings leave these untyped). */
interface LogoutClient {
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string): Promise<void>;
}

interface AuthorizationCodeLike {
  accountId?: string;
  clientId?: string;
  grantId?: string;
  sid?: string;
}

export class BackchannelLogout {
  private readonly pending = new Set<Promise<void>>();
  private readonly stop = new AbortController();
  private readonly retryDelaysMs: readonly number[];

  constructor(private readonly options: BackchannelLogoutOptions) {
    this.retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    // Every grant starts with an authorization code (response type `code`): it names the client and the ID tokens' sid.
    options.provider.on('authorization_code.saved', (code: AuthorizationCodeLike) => this.remember(code));
    // oidc-provider's own end_session sends logout tokens once, without retries: its failures are audited here too.
    options.provider.on('backchannel.error', (_ctx: unknown, err: Error, client: { clientId: string }, accountId: string) =>
      this.audit('failure', accountId, client.clientId, 'delivery_failed', { attempts: 1, detail: err.message.slice(0, 200) }),
    );
    options.provider.on('backchannel.success', (_ctx: unknown, client: { clientId: string }, accountId: string) => this.audit('success', accountId, client.clientId));
  }

  private remember(code: AuthorizationCodeLike): void {
    const { accountId, clientId, grantId, sid } = code;
    if (!accountId || !clientId || !grantId || !sid || !this.options.clients.has(clientId)) return;
    this.options.store.set(targetKey(accountId, grantId), { clientId, sid } satisfies LogoutTarget, this.options.ttlMs).catch((err: unknown) => {
      this.options.logger.error({ err: { message: (err as Error)?.message }, clientId }, 'could not record the back-channel logout target of a grant');
    });
  }

  /**
   * terminate()'s hook: starts a delivery to each client of the session's grants that has a back-channel logout URI
   * and returns (deliveries go on in the background). A logout through end_session is left to oidc-provider, which
   * sends the logout tokens of that browser's clients itself.
   */
  async notify(session: FederatedSession, grantIds: readonly string[], reason: EndReason): Promise<void> {
    if (grantIds.length === 0 || this.options.clients.size === 0) return;
    const keys = grantIds.map((grantId) => targetKey(session.accountId, grantId));
    let targets: (LogoutTarget | undefined)[];
    try {
      targets = await this.options.store.getMany<LogoutTarget>(keys);
      await this.options.store.delete(...keys);
    } catch (err) {
      this.options.logger.error({ err: { message: (err as Error)?.message }, accountId: session.accountId }, 'could not read the back-channel logout targets of an ended session');
      return;
    }
    if (reason === 'logout') return;
    for (const target of targets) {
      if (!target) continue;
      const delivery = this.deliver(session.accountId, target).finally(() => this.pending.delete(delivery));
      this.pending.add(delivery);
    }
  }

  /** POSTs one logout token (oidc-provider's Client#backchannelLogout builds and signs it), retrying on failure. */
  private async deliver(accountId: string, target: LogoutTarget): Promise<void> {
    let detail = '';
    for (let attempt = 1; attempt <= this.retryDelaysMs.length + 1; attempt += 1) {
      if (attempt > 1 && !(await waitUnlessAborted(this.retryDelaysMs[attempt - 2]!, this.stop.signal))) {
        this.audit('failure', accountId, target.clientId, 'shutdown', { attempts: attempt - 1, detail });
        return;
      }
      try {
        const client = (await this.options.provider.Client.find(target.clientId)) as unknown as LogoutClient | undefined;
        if (!client?.backchannelLogoutUri) return;
        await client.backchannelLogout(accountId, target.sid);
        this.audit('success', accountId, target.clientId, undefined, { attempts: attempt });
        return;
      } catch (err) {
        detail = String((err as Error)?.message ?? err).slice(0, 200);
        this.options.logger.warn({ clientId: target.clientId, attempt, detail }, 'back-channel logout delivery failed');
      }
    }
    this.audit('failure', accountId, target.clientId, 'delivery_failed', { attempts: this.retryDelaysMs.length + 1, detail });
  }

  private audit(outcome: 'success' | 'failure', accountId: string, clientId: string, reason?: string, details: Record<string, string | number> = {}): void {
    this.options.auditor.record({ event: 'backchannel.logout', outcome, accountId, clientId, ...(reason ? { reason } : {}), details });
  }

  /** Resolves when every delivery started so far has succeeded or given up. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Stops retrying (pending retries are audited as failures, reason `shutdown`) and waits for attempts in flight. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.idle();
  }
}
