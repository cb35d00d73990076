// Keeps the Client objects built from cached Client ID Metadata Documents, so a known agent's authorization costs what a configured client's does.
import type Provider from 'oidc-provider';

const MAX_ENTRIES = 100;

interface Entry {
  client: unknown;
  until: number;
}

/**
 * oidc-provider caches a document's properties but builds (and validates) a new Client from them on every request.
 * This keeps the built Client for `seconds` (at most the shortest time oidc-provider itself caches a document, so a
 * changed or withdrawn document is seen no later than there), for at most MAX_ENTRIES documents.
 */
export function cacheDocumentClients(provider: Provider, seconds: number, now: () => number = Date.now): void {
  if (seconds <= 0) return;
  const Client = provider.Client as unknown as { find(id: string): Promise<unknown> };
  const find = Client.find.bind(Client);
  const entries = new Map<string, Entry>();
  Client.find = async (id: string) => {
    if (typeof id !== 'string' || !id.startsWith('https://')) return find(id);
    const cached = entries.get(id);
    if (cached && cached.until > now()) return cached.client;
    const client = await find(id);
    entries.delete(id);
    if (client) {
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
      entries.set(id, { client, until: now() + seconds * 1000 });
    }
    return client;
  };
}
