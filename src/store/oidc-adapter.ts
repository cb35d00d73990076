// oidc-provider 9 Adapter on a KeyValueStore: a port of oidc-provider's memory adapter (same keys and grant/sessionUid/userCode indexes).
import Provider, { errors } from 'oidc-provider';
import { claimOnce, DEFAULT_LOST_CLAIM_WAIT_MS } from './claim-once.js';
import type { KeyValueStore, WriteOp } from './store.js';

/** What oidc-provider hands to upsert and expects back from find (plus `consumed`, set by consume). */
export interface OidcPayload {
  [claim: string]: unknown;
  jti?: string;
  grantId?: string;
  uid?: string;
  userCode?: string;
  consumed?: number;
}

/** The Adapter contract of oidc-provider 9 (lib/adapters/memory_adapter.js). */
export interface OidcAdapter {
  readonly model: string;
  upsert(id: string, payload: OidcPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<OidcPayload | undefined>;
  findByUid(uid: string): Promise<OidcPayload | undefined>;
  findByUserCode(userCode: string): Promise<OidcPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/** Pass as oidc-provider's `adapter` option: it calls `new Adapter(modelName)` once per model. */
export type OidcAdapterClass = new (model: string) => OidcAdapter;

export interface OidcAdapterOptions {
  /**
   * Prepended to every key. The default carries the Redis Cluster hash tag `{oidc}`: an upsert, destroy or
   * revocation touches a model key, its grant index and its secondary indexes in one atomic batch, and those
   * keys are looked up by different ids, so they can only share a slot through one common tag.
   */
  prefix?: string;
  /** Seconds added to every expiresIn (oidc-provider's clockTolerance), as the memory adapter does. */
  clockToleranceSec?: number;
  /** Clock in ms since epoch (tests). */
  now?: () => number;
  /**
   * How long a consume whose answer the store lost waits for the store to say whether it landed, ms (see claimOnce).
   * Default 15 s.
   */
  lostClaimWaitMs?: number;
}

/** The field a consume writes beside `consumed`: which request's claim it was. */
const CONSUMED_BY = 'consumedBy';

export const DEFAULT_OIDC_PREFIX = 'oidc:{oidc}:';

/** Models whose payload carries a grantId that revokeByGrantId must reach (same list as the memory adapter). */
const grantable = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/**
 * Stored payloads leave out `kind` and `jti` when they repeat the model name and the id (every oidc-provider model
 * but Client carries both); find puts them back, so callers see exactly what was upserted.
 */
function compact(model: string, id: string, payload: OidcPayload): OidcPayload {
  if (model === 'Client' || payload.kind !== model || payload.jti !== id) return payload;
  const { kind: _kind, jti: _jti, ...rest } = payload;
  return rest;
}

function expand(model: string, id: string, stored: OidcPayload | undefined): OidcPayload | undefined {
  if (!stored || model === 'Client' || 'kind' in stored || 'jti' in stored) return stored;
  return { ...stored, kind: model, jti: id };
}

/** A consume held back until its token request has saved the tokens it issues (see issuer/single-use.ts). */
export interface DeferredConsume {
  readonly model: string;
  readonly id: string;
  /**
   * Claims the entry now. A loser is reuse: the grant (`grantId`, else the one the entry names) is revoked and this
   * rejects with InvalidGrant. An entry gone meanwhile (revoked, destroyed, expired) loses too: the tokens the request
   * saved may have landed in the grant after its revocation, so the grant is revoked again to take them with it.
   */
  settle(grantId: string | undefined): Promise<void>;
}

/** What a request defers: its consumes, and (when asked) the writes of the access and refresh tokens it saves. */
interface Deferral {
  consumes: DeferredConsume[];
  /** Present when saves are deferred: the writes in call order, and each saved payload by key (read back by find). */
  saves?: { ops: WriteOp[]; payloads: Map<string, OidcPayload> };
}

/** Requests whose writes are deferred: the Koa ctx oidc-provider runs the request under -> what it deferred so far. */
const deferred = new WeakMap<object, Deferral>();

/** Models whose saves a token request may defer: oidc-provider saves them once, under fresh ids (find still sees them). */
const deferrableSaves = new Set(['AccessToken', 'RefreshToken']);

/**
 * From now on, consume() calls made while oidc-provider handles this request (Provider.ctx === ctx) are recorded instead
 * of written; takeDeferred() hands them over. Whoever calls this must settle them. With `saves`, the access and
 * refresh tokens the request saves are held too, for the caller to write in one batch before it settles the consumes.
 */
export function deferConsumes(ctx: object, options: { saves?: boolean } = {}): void {
  deferred.set(ctx, { consumes: [], saves: options.saves ? { ops: [], payloads: new Map() } : undefined });
}

/** What the request deferred, in call order: the writes of its token saves (one batch) and its consumes; ends the deferral. */
export function takeDeferred(ctx: object): { saves: WriteOp[]; consumes: DeferredConsume[] } {
  const deferral = deferred.get(ctx);
  deferred.delete(ctx);
  return { saves: deferral?.saves?.ops ?? [], consumes: deferral?.consumes ?? [] };
}

/** The deferred saves of the request oidc-provider is handling, when it defers them. */
function deferredSaves(): Deferral['saves'] {
  const ctx = Provider.ctx;
  return ctx ? deferred.get(ctx)?.saves : undefined;
}

/** Every how many grant-member saves (per adapter factory) the grant index's expired members are dropped. */
export const PRUNE_EVERY = 16;

/**
 * Builds the Adapter class. Grant index `grant:<grantId>` is a store map: field = member key (`<Model>:<id>`),
 * value = the member's expiry in ms since epoch (0 = never), and the map lives at least as long as its longest member.
 */
export function createOidcAdapter(store: KeyValueStore, options: OidcAdapterOptions = {}): OidcAdapterClass {
  const prefix = options.prefix ?? DEFAULT_OIDC_PREFIX;
  const tolerance = options.clockToleranceSec ?? 0;
  const now = options.now ?? Date.now;
  const claimOptions = { markField: CONSUMED_BY, waitMs: options.lostClaimWaitMs ?? DEFAULT_LOST_CLAIM_WAIT_MS };
  let saves = 0;

  const grantKey = (grantId: string) => `${prefix}grant:${grantId}`;
  const sessionUidKey = (uid: string) => `${prefix}sessionUid:${uid}`;
  const userCodeKey = (userCode: string) => `${prefix}userCode:${userCode}`;

  function removeSecondaryIndexes(id: string, payload: OidcPayload): WriteOp[] {
    const ops: WriteOp[] = [];
    if (payload.uid) ops.push({ op: 'deleteIfEquals', key: sessionUidKey(payload.uid), value: id });
    if (payload.userCode) ops.push({ op: 'deleteIfEquals', key: userCodeKey(payload.userCode), value: id });
    return ops;
  }

  return class StoreAdapter implements OidcAdapter {
    constructor(readonly model: string) {}

    /** The member name used in grant indexes, as the memory adapter's storage key. */
    private member(id: string): string {
      return `${this.model}:${id}`;
    }

    private key(id: string): string {
      return prefix + this.member(id);
    }

    private removeIndexes(id: string, payload: OidcPayload): WriteOp[] {
      const ops = removeSecondaryIndexes(id, payload);
      if (grantable.has(this.model) && payload.grantId) {
        ops.push({ op: 'mapDelete', key: grantKey(payload.grantId), field: this.member(id) });
      }
      return ops;
    }

    async upsert(id: string, payload: OidcPayload, expiresIn?: number): Promise<void> {
      const key = this.key(id);
      const ttlMs = typeof expiresIn === 'number' ? (expiresIn + tolerance) * 1000 : undefined;
      const grantId = grantable.has(this.model) ? payload.grantId : undefined;
      // The previous payload is read only where a re-save can leave a stale secondary index behind (a Session's uid,
      // a user code); tokens are saved once under a fresh id, so reading them first would only cost a round trip.
      const reread = this.model === 'Session' || this.model === 'DeviceCode' || payload.userCode !== undefined;
      const previous = reread ? await this.find(id) : undefined;

      const ops: WriteOp[] = previous ? this.removeIndexes(id, previous) : [];
      if (this.model === 'Session') ops.push({ op: 'set', key: sessionUidKey(String(payload.uid)), value: id, ttlMs });
      if (grantId) {
        const at = now();
        // With refresh-token rotation a grant gains members on every refresh: its expired ones are dropped inside the
        // store every PRUNE_EVERY-th save, never read here.
        if (saves++ % PRUNE_EVERY === 0) ops.push({ op: 'mapPrune', key: grantKey(grantId), upTo: at });
        const expiresAt = ttlMs === undefined ? 0 : at + ttlMs;
        ops.push({ op: 'mapSet', key: grantKey(grantId), field: this.member(id), value: expiresAt, ttlMs });
      }
      if (payload.userCode) ops.push({ op: 'set', key: userCodeKey(payload.userCode), value: id, ttlMs });
      ops.push({ op: 'set', key, value: compact(this.model, id, payload), ttlMs });
      const held = deferrableSaves.has(this.model) && !reread ? deferredSaves() : undefined;
      if (held) {
        held.ops.push(...ops);
        held.payloads.set(key, payload);
        return;
      }
      await store.batch(ops);
    }

    async find(id: string): Promise<OidcPayload | undefined> {
      const held = deferredSaves()?.payloads.get(this.key(id));
      if (held) return held;
      return expand(this.model, id, await store.get<OidcPayload>(this.key(id)));
    }

    async findByUid(uid: string): Promise<OidcPayload | undefined> {
      const id = await store.get<string>(sessionUidKey(uid));
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode: string): Promise<OidcPayload | undefined> {
      const id = await store.get<string>(userCodeKey(userCode));
      return id === undefined ? undefined : this.find(id);
    }

    /**
     * Marks the entry consumed (epoch seconds) in place, keeping its TTL, only when nobody has: of concurrent consumes
     * exactly one wins (oidc-provider checks `consumed` and then calls consume, two steps). A loser is reuse (RFC 6749
     * sections 4.1.2 and 10.4): the grant is revoked and InvalidGrant thrown. An absent entry stays absent. A claim whose
     * answer the store lost is read back once the store answers (claimOnce), so a retry is never mistaken for reuse.
     * Inside a request registered with deferConsumes() the claim is only recorded, to be made after the new tokens are saved.
     */
    async consume(id: string): Promise<void> {
      const ctx = Provider.ctx;
      const pending = ctx && deferred.get(ctx)?.consumes;
      if (pending) {
        pending.push({ model: this.model, id, settle: (grantId) => this.claim(id, true, grantId) });
        return;
      }
      await this.claim(id, false, undefined);
    }

    private async claim(id: string, deferredClaim: boolean, grantId: string | undefined): Promise<void> {
      const result = await claimOnce(store, this.key(id), 'consumed', Math.floor(now() / 1000), claimOptions);
      if (result === 'won' || (result === 'absent' && !deferredClaim)) return;
      const revoke = grantId ?? (result === 'taken' ? (await this.find(id))?.grantId : undefined);
      if (revoke) await this.revokeGrant(revoke);
      if (this.model === 'PushedAuthorizationRequest') throw new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used');
      throw new errors.InvalidGrant(`${this.model} ${result === 'taken' ? 'already used' : 'no longer exists'}`);
    }

    /** Revokes every token of the grant and the Grant itself, as oidc-provider does on reuse (helpers/revoke.js). */
    private async revokeGrant(grantId: string): Promise<void> {
      // A Grant has no secondary index: deleting its key is all destroy() would do, without reading it first.
      await Promise.all([this.revokeByGrantId(grantId), store.delete(`${prefix}Grant:${grantId}`)]);
    }

    async destroy(id: string): Promise<void> {
      const key = this.key(id);
      const payload = await this.find(id);
      await store.batch([{ op: 'delete', key }, ...(payload ? this.removeIndexes(id, payload) : [])]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const members = Object.keys(await store.mapGetAll(grantKey(grantId)));
      if (members.length === 0) return;
      const payloads = await store.getMany<OidcPayload>(members.map((member) => prefix + member));
      const ops: WriteOp[] = [];
      members.forEach((member, i) => {
        const separator = member.indexOf(':');
        const payload = expand(member.slice(0, separator), member.slice(separator + 1), payloads[i]);
        // A member re-saved under another grant (upsert does not read the previous payload) belongs to that grant now.
        if (payload === undefined || payload.grantId === grantId) {
          ops.push({ op: 'delete', key: prefix + member });
          if (payload) ops.push(...removeSecondaryIndexes(payload.jti ?? member.slice(separator + 1), payload));
        }
        // Only the members read above: a token added to this grant meanwhile is not revoked, as with the memory adapter.
        ops.push({ op: 'mapDelete', key: grantKey(grantId), field: member });
      });
      await store.batch(ops);
    }
  };
}

/** Revokes a grant outside a token request (a session ending): every code and token of it, then the Grant record. */
export function createGrantRevoker(Adapter: OidcAdapterClass): (grantId: string) => Promise<void> {
  const grants = new Adapter('Grant');
  return async (grantId) => {
    // One grant index holds every code and token of the grant.
    await grants.revokeByGrantId(grantId);
    await grants.destroy(grantId);
  };
}
