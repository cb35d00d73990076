// SSF event streams in the store: each belongs to one client (the receiver that created it); the subjects it leaves out; the SETs waiting for a poll.
import { randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../store/store.js';

export const PUSH_METHOD = 'urn:ietf:rfc:8935';
export const POLL_METHOD = 'urn:ietf:rfc:8936';

export type StreamStatus = 'enabled' | 'paused' | 'disabled';

export interface StreamRecord {
  stream_id: string;
  /** The client that owns it: the only one that sees or changes it. */
  clientId: string;
  delivery: { method: string; endpoint_url?: string; authorization_header?: string };
  events_requested: string[];
  description?: string;
  status: StreamStatus;
  reason?: string;
  /** Account ids removed from the stream (default_subjects ALL: every other subject of the client is in it). */
  excluded: string[];
  createdAt: number;
}

const streamKey = (streamId: string) => `ssf-stream:${streamId}`;
const clientStreamsKey = (clientId: string) => `ssf-client-streams:${clientId}`;
// Per stream, so a poll's batch is one Redis Cluster slot.
const pollQueueKey = (streamId: string) => `ssf-poll:{${streamId}}`;

/** How long an unpolled SET waits for its receiver. */
const POLL_RETENTION_MS = 7 * 86400_000;
/** Subjects one stream may leave out. */
export const MAX_EXCLUDED = 1000;

export class StreamRepository {
  constructor(private readonly store: KeyValueStore) {}

  newId(): string {
    return randomBytes(16).toString('base64url');
  }

  /** The client's stream with this id; undefined when absent or another client's (the caller answers 404 either way). */
  async get(clientId: string, streamId: string): Promise<StreamRecord | undefined> {
    if (typeof streamId !== 'string' || streamId.length === 0 || streamId.length > 64) return undefined;
    const stream = await this.store.get<StreamRecord>(streamKey(streamId));
    return stream?.clientId === clientId ? stream : undefined;
  }

  async ofClient(clientId: string): Promise<StreamRecord[]> {
    const ids = Object.keys(await this.store.mapGetAll(clientStreamsKey(clientId)));
    const streams = await this.store.getMany<StreamRecord>(ids.map(streamKey));
    return streams.filter((stream): stream is StreamRecord => stream?.clientId === clientId);
  }

  async save(stream: StreamRecord): Promise<void> {
    await this.store.set(streamKey(stream.stream_id), stream);
    await this.store.batch([{ op: 'mapSet', key: clientStreamsKey(stream.clientId), field: stream.stream_id, value: stream.createdAt }]);
  }

  async delete(stream: StreamRecord): Promise<void> {
    await this.store.delete(streamKey(stream.stream_id), pollQueueKey(stream.stream_id));
    await this.store.batch([{ op: 'mapDelete', key: clientStreamsKey(stream.clientId), field: stream.stream_id }]);
  }

  /** Deletes every stream of a client, with their waiting SETs (the client is removed). */
  async deleteAllOf(clientId: string): Promise<void> {
    const ids = Object.keys(await this.store.mapGetAll(clientStreamsKey(clientId)));
    if (ids.length > 0) await this.store.delete(...ids.flatMap((id) => [streamKey(id), pollQueueKey(id)]));
    await this.store.delete(clientStreamsKey(clientId));
  }

  /** Queues a SET for the stream's receiver to poll. */
  async enqueue(streamId: string, jti: string, token: string): Promise<void> {
    await this.store.batch([{ op: 'mapSet', key: pollQueueKey(streamId), field: jti, value: token, ttlMs: POLL_RETENTION_MS }]);
  }

  /** Removes the acknowledged SETs, then answers up to `max` waiting ones and whether more wait. */
  async poll(streamId: string, ack: readonly string[], max: number): Promise<{ sets: Record<string, string>; moreAvailable: boolean }> {
    if (ack.length > 0) await this.store.batch(ack.map((jti) => ({ op: 'mapDelete' as const, key: pollQueueKey(streamId), field: jti })));
    const waiting = Object.entries(await this.store.mapGetAll<string>(pollQueueKey(streamId)));
    return { sets: Object.fromEntries(waiting.slice(0, max)), moreAvailable: waiting.length > max };
  }
}
