// The re-verification sweep: every instance takes due sessions from the store's due index under a lease, checks them with bounded concurrency, and says when it falls behind.
import type { Logger } from 'pino';
import type { DueSession, FederatedSession, SessionRepository } from './federated-session.js';
import type { CheckOutcome } from './reverify.js';

export interface SchedulerOptions {
  sessions: Pick<SessionRepository, 'takeDue' | 'get' | 'unschedule'>;
  /** Checks one session (reverify.ts checkSession). */
  check: (session: FederatedSession) => Promise<CheckOutcome>;
  now: () => number;
  logger: Logger;
  /** Time between two sweeps of this instance, ms (each wait varies by ±20% so instances drift apart). */
  sweepIntervalMs: number;
  /** Due sessions taken from the store at a time. */
  batchSize: number;
  /** Checks running at the same time. */
  concurrency: number;
  /** A taken session comes back due after this long if this instance neither rescheduled nor ended it. */
  leaseMs: number;
  /** Told about every finished sweep (metrics). */
  onSweep?: (report: SweepReport) => void;
  /** A number in [0, 1) (default Math.random): the jitter of the wait between sweeps. */
  random?: () => number;
}

/** What one sweep did. `lagMs`: how overdue the most overdue session it took was. */
export interface SweepReport {
  taken: number;
  outcomes: Record<CheckOutcome | 'failed', number>;
  lagMs: number;
  /** The sweep found more overdue work than one sweep interval can explain. */
  behind: boolean;
}

export class ReverifyScheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepReport>;
  private stopped = true;
  /** Set by stop(): a sweep in progress takes no further batch. */
  private closing = false;

  constructor(private readonly options: SchedulerOptions) {}

  /** Sweeps on a timer until stop(); the first sweep comes after one (jittered) interval. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.closing = false;
    this.arm();
  }

  /** Stops the timer and waits for a sweep in progress (its remaining batches are not taken). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private arm(): void {
    const random = this.options.random ?? Math.random;
    const delay = this.options.sweepIntervalMs * (0.8 + 0.4 * random());
    this.timer = setTimeout(() => {
      this.sweepOnce()
        .catch((err: unknown) => this.options.logger.error({ err: { message: (err as Error)?.message } }, 'session re-verification sweep failed'))
        .finally(() => {
          if (!this.stopped) this.arm();
        });
    }, delay);
    this.timer.unref();
  }

  /** Takes and checks due sessions, batch after batch, until fewer than a full batch are due (or stop()). */
  sweepOnce(): Promise<SweepReport> {
    this.running ??= this.sweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweep(): Promise<SweepReport> {
    const { sessions, batchSize, leaseMs, now, logger } = this.options;
    const report: SweepReport = { taken: 0, outcomes: { verified: 0, unchanged: 0, marked: 0, ended: 0, unreachable: 0, gone: 0, failed: 0 }, lagMs: 0, behind: false };
    const startedAt = now();
    for (;;) {
      const due = await sessions.takeDue(now(), batchSize, leaseMs);
      report.taken += due.length;
      for (const entry of due) report.lagMs = Math.max(report.lagMs, startedAt - entry.dueAt);
      await this.checkAll(due, report);
      if (due.length < batchSize || this.closing) break;
    }
    report.behind = report.lagMs > 2 * this.options.sweepIntervalMs;
    if (report.behind) logger.warn({ lagMs: report.lagMs, taken: report.taken }, 'session re-verification is behind schedule');
    else if (report.taken > 0) logger.debug({ taken: report.taken, outcomes: report.outcomes }, 'session re-verification sweep');
    this.options.onSweep?.(report);
    return report;
  }

  /** Runs the checks of one batch, at most `concurrency` at a time; a failed check stays leased and comes back due. */
  private async checkAll(due: readonly DueSession[], report: SweepReport): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        const entry = due[next++]!;
        try {
          const outcome = await this.checkOne(entry);
          report.outcomes[outcome] += 1;
        } catch (err) {
          report.outcomes.failed += 1;
          this.options.logger.warn({ err: { message: (err as Error)?.message }, accountId: entry.accountId }, 'session re-verification failed; retried after the lease');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, due.length) }, worker));
  }

  private async checkOne(entry: DueSession): Promise<CheckOutcome> {
    const session = await this.options.sessions.get(entry.accountId, entry.sessionId);
    if (!session) {
      await this.options.sessions.unschedule(entry.accountId, entry.sessionId);
      return 'gone';
    }
    return this.options.check(session);
  }
}
