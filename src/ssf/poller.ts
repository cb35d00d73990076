// Poll delivery (RFC 8936): the broker polls an upstream transmitter's endpoint, applies the SETs, and acknowledges them (or reports their errors) in the next poll.
import type { Logger } from 'pino';
import type { SsfReceiverConfig } from '../config/ssf-schema.js';
import { SetBusyError, type SsfReceiver } from './receiver.js';
import { SetError } from './set.js';

export interface PollerOptions {
  receiver: Pick<SsfReceiver, 'receive'>;
  config: SsfReceiverConfig;
  logger: Logger;
  httpTimeoutMs: number;
  /** SETs asked for per poll. */
  maxEvents?: number;
  fetch?: typeof fetch;
}

interface PollResponse {
  sets?: Record<string, unknown>;
  moreAvailable?: boolean;
}

/** Largest poll answer read (maxEvents SETs of at most 16 KiB each, and JSON around them). */
const MAX_RESPONSE_BYTES = 2 * 1024 * 1024;

export class SsfPoller {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private stopped = true;
  /** Acknowledgements and errors owed to the transmitter: sent with the next poll. */
  private ack: string[] = [];
  private setErrs: Record<string, { err: string; description: string }> = {};

  constructor(private readonly options: PollerOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.pollOnce()
        .catch((err: unknown) => this.options.logger.warn({ err: { message: (err as Error)?.message }, provider: this.options.config.provider }, 'SSF poll failed'))
        .finally(() => {
          if (!this.stopped) this.arm();
        });
    }, this.options.config.pollIntervalSeconds * 1000);
    this.timer.unref();
  }

  /** Polls until the transmitter has nothing more, acknowledging as it goes; answers how many SETs were applied. */
  pollOnce(): Promise<number> {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async drain(): Promise<number> {
    let applied = 0;
    for (let round = 0; round < 100; round += 1) {
      const response = await this.request();
      const sets = Object.entries(response.sets ?? {});
      for (const [jti, token] of sets) {
        try {
          await this.options.receiver.receive(this.options.config, String(token));
          applied += 1;
          this.ack.push(jti);
        } catch (error) {
          // Being applied by another delivery: neither acknowledged nor an error, so the next poll offers it again.
          if (error instanceof SetBusyError) continue;
          if (!(error instanceof SetError)) throw error;
          // A replay was applied before: acknowledge it so the transmitter stops offering it.
          if (error.reason === 'set_replayed') this.ack.push(jti);
          else this.setErrs[jti] = { err: error.err, description: error.reason };
        }
      }
      if (!response.moreAvailable && sets.length === 0 && this.ack.length === 0 && Object.keys(this.setErrs).length === 0) break;
      if (!response.moreAvailable && sets.length === 0) {
        // Nothing new: one last request carries the acknowledgements.
        await this.request();
        break;
      }
    }
    return applied;
  }

  private async request(): Promise<PollResponse> {
    const { config } = this.options;
    const body = { ack: this.ack, ...(Object.keys(this.setErrs).length > 0 ? { setErrs: this.setErrs } : {}), maxEvents: this.options.maxEvents ?? 50, returnImmediately: true };
    const response = await (this.options.fetch ?? fetch)(config.pollUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(config.pollAuthorization ? { authorization: config.pollAuthorization } : {}) },
      body: JSON.stringify(body),
      redirect: 'error',
      signal: AbortSignal.timeout(this.options.httpTimeoutMs),
    });
    const text = await response.text();
    if (text.length > MAX_RESPONSE_BYTES) throw new Error('poll answer too large');
    if (!response.ok) throw new Error(`poll answered ${response.status}`);
    // Delivered: these acknowledgements are the transmitter's now.
    this.ack = [];
    this.setErrs = {};
    const parsed = JSON.parse(text) as PollResponse;
    if (typeof parsed !== 'object' || parsed === null) throw new Error('poll answer is not a JSON object');
    return parsed;
  }
}
