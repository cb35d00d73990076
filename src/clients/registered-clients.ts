// Registered clients in the store (dynamic registration and `vestibule clients add`): oidc-provider's Client records plus an index, a disabled flag and the unused-expiry of open registrations.
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import type { OidcAdapter, OidcAdapterClass, OidcPayload } from '../store/oidc-adapter.js';
import { StreamRepository } from '../ssf/streams.js';
import type { KeyValueStore } from '../store/store.js';

const INDEX = 'clients:registered';
const META = 'clients:registered:';
/** An open registration's expiry is pushed back at most this often (a write per sign-in would be wasted). */
const TOUCH_EVERY_MS = 3600_000;

/** How a client came to be registered. */
export type RegistrationOrigin = 'token' | 'open' | 'cli';

export interface RegistrationMeta {
  origin: RegistrationOrigin;
  createdAt: number;
  disabled?: boolean;
  /** Open registrations: removed when unused this long (ms); `touchedAt` is the last use seen. */
  unusedTtlMs?: number;
  touchedAt?: number;
}

export interface RegisteredClient {
  metadata: OidcPayload;
  meta: RegistrationMeta;
}

/** The request being handled tells how a new client was registered (the registration gate sets it on ctx.state). */
export interface RegistrationContextState {
  registrationOrigin?: RegistrationOrigin;
}

export class RegisteredClients {
  private readonly clients: OidcAdapter;

  constructor(
    private readonly store: KeyValueStore,
    Adapter: OidcAdapterClass,
    private readonly now: () => number = Date.now,
  ) {
    this.clients = new Adapter('Client');
  }

  async meta(clientId: string): Promise<RegistrationMeta | undefined> {
    return this.store.get<RegistrationMeta>(META + clientId);
  }

  async get(clientId: string): Promise<RegisteredClient | undefined> {
    const [metadata, meta] = await Promise.all([this.clients.find(clientId), this.meta(clientId)]);
    return metadata ? { metadata, meta: meta ?? { origin: 'token', createdAt: 0 } } : undefined;
  }

  /** Saves (creates or replaces) a client; an open registration lives while it is used. */
  async save(clientId: string, metadata: OidcPayload, origin: RegistrationOrigin, unusedTtlMs?: number): Promise<void> {
    const previous = await this.meta(clientId);
    const at = this.now();
    const meta: RegistrationMeta = previous ?? { origin, createdAt: at, ...(origin === 'open' && unusedTtlMs ? { unusedTtlMs, touchedAt: at } : {}) };
    const ttlSeconds = meta.unusedTtlMs ? Math.ceil(meta.unusedTtlMs / 1000) : undefined;
    await this.clients.upsert(clientId, metadata, ttlSeconds);
    await this.store.batch([
      { op: 'set', key: META + clientId, value: meta, ...(meta.unusedTtlMs ? { ttlMs: meta.unusedTtlMs } : {}) },
      { op: 'mapSet', key: INDEX, field: clientId, value: meta.createdAt },
    ]);
  }

  /** Whether a stored client may be used; pushes an open registration's expiry back when it is used. */
  async usable(clientId: string, metadata: OidcPayload): Promise<boolean> {
    const meta = await this.meta(clientId);
    if (meta?.disabled) return false;
    if (meta?.unusedTtlMs && meta.touchedAt !== undefined && this.now() - meta.touchedAt > TOUCH_EVERY_MS) {
      const touched = { ...meta, touchedAt: this.now() };
      await this.clients.upsert(clientId, metadata, Math.ceil(meta.unusedTtlMs / 1000));
      await this.store.set(META + clientId, touched, meta.unusedTtlMs);
    }
    return true;
  }

  async setDisabled(clientId: string, disabled: boolean): Promise<boolean> {
    const current = await this.get(clientId);
    if (!current) return false;
    const { disabled: _was, ...meta } = current.meta;
    await this.store.set(META + clientId, disabled ? { ...meta, disabled: true } : meta, meta.unusedTtlMs);
    return true;
  }

  async remove(clientId: string): Promise<boolean> {
    const existed = (await this.clients.find(clientId)) !== undefined;
    await this.clients.destroy(clientId);
    await this.store.batch([
      { op: 'delete', key: META + clientId },
      { op: 'mapDelete', key: INDEX, field: clientId },
    ]);
    // What the client owned goes with it: its SSF event streams, so no receiver of it hears of users again.
    await new StreamRepository(this.store).deleteAllOf(clientId);
    return existed;
  }

  /** A new client secret (the old one stops working at once); undefined for a public or unknown client. */
  async rotateSecret(clientId: string): Promise<string | undefined> {
    const current = await this.get(clientId);
    if (!current || current.metadata.token_endpoint_auth_method === 'none') return undefined;
    const secret = randomBytes(32).toString('base64url');
    await this.clients.upsert(clientId, { ...current.metadata, client_secret: secret, client_secret_expires_at: 0 }, current.meta.unusedTtlMs ? Math.ceil(current.meta.unusedTtlMs / 1000) : undefined);
    return secret;
  }

  /** Every registered client still stored (expired open registrations drop out of the index here). */
  async list(): Promise<(RegisteredClient & { clientId: string })[]> {
    const ids = Object.keys(await this.store.mapGetAll(INDEX)).sort();
    const found = await Promise.all(ids.map(async (clientId) => ({ clientId, client: await this.get(clientId) })));
    const gone = found.filter((entry) => !entry.client).map((entry) => entry.clientId);
    if (gone.length > 0) await this.store.batch(gone.map((field) => ({ op: 'mapDelete' as const, key: INDEX, field })));
    return found.flatMap(({ clientId, client }) => (client ? [{ clientId, ...client }] : []));
  }
}

/**
 * The Adapter class oidc-provider uses, with the Client model going through the registered-client records: a disabled
 * client is not found (invalid_client), a registration is indexed with its origin, a deletion (RFC 7592) un-indexes it.
 */
export function withRegisteredClients(Adapter: OidcAdapterClass, registered: RegisteredClients, unusedTtlMs: number): OidcAdapterClass {
  return class RegisteredClientAdapter extends Adapter {
    constructor(model: string) {
      super(model);
    }

    override async upsert(id: string, payload: OidcPayload, expiresIn?: number): Promise<void> {
      if (this.model !== 'Client') return super.upsert(id, payload, expiresIn);
      const state = (Provider.ctx?.state ?? {}) as RegistrationContextState;
      await registered.save(id, payload, state.registrationOrigin ?? 'token', unusedTtlMs);
    }

    override async find(id: string): Promise<OidcPayload | undefined> {
      // An https client_id is a metadata document: never a stored client (registration and the CLI never choose one).
      if (this.model === 'Client' && id.startsWith('https://')) return undefined;
      const payload = await super.find(id);
      if (this.model !== 'Client' || !payload) return payload;
      return (await registered.usable(id, payload)) ? payload : undefined;
    }

    override async destroy(id: string): Promise<void> {
      if (this.model !== 'Client') return super.destroy(id);
      await registered.remove(id);
    }
  };
}
