// The re-verification sweep: every instance takes due sessions from the store's due index under a lease, checks them with bounded concurrency, spreads a timed sweep's checks over its interval yielding to requests, and says when it falls behind.
import type { Logger } from 'pino';
import type { DueSession, FederatedSession, SessionRepository } from './federated-session.js';
import type { CheckOutcome } from './reverify.js';

/** Real time for pacing: a clock that only moves forward, and a wait on it. */
export interface SweepClock {
  monotonic(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: SweepClock = {
  monotonic: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A paced check waiting for requests to be answered looks again after this long, ms, doubling up to YIELD_POLL_MAX_MS. */
const YIELD_POLL_MS = 2;
const YIELD_POLL_MAX_MS = 32;

export interface SchedulerOptions {
  sessions: Pick<SessionRepository, 'takeDue' | 'get' | 'unschedule'>;
  /** Checks one session (reverify.ts checkSession). */
  check: (session: FederatedSession) => Promise<CheckOutcome>;
  now: () => number;
  logger: Logger;
  /**
   * Time from the start of one sweep of this instance to the start of the next, ms (each wait varies by ±20% so
   * instances drift apart; a sweep that takes longer is followed at once). A timed sweep spreads its checks over 80%
   * of it (at most half the lease).
   */
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
  /**
   * Whether the broker is answering requests (traffic-gauge.ts): a paced check waits until it is not, but at most a
   * quarter of the spreading window past its planned start, so traffic delays the sweep without stopping it.
   */
  busy?: () => boolean;
  /** Settles when busy() turns false (traffic-gauge.ts): a waiting check starts in the first idle moment; without it, busy() is polled. */
  whenIdle?: () => Promise<void>;
  /** The real time pacing runs on (default performance.now and setTimeout); tests inject their own. */
  clock?: SweepClock;
}

/** What one sweep did. `lagMs`: how overdue the most overdue session it took was. */
export interface SweepReport {
  taken: number;
  outcomes: Record<CheckOutcome | 'failed', number>;
  lagMs: number;
  /** The sweep found more overdue work than one sweep interval can explain. */
  behind: boolean;
  /** Paced checks that reached their latest start while requests were in flight, and started among them. */
  forced: number;
}

export interface SweepOptions {
  /**
   * Spread the checks over the sweep's window (each batch over its share of the due times the sweep covers) and let
   * requests go first, as the timer's sweeps do; default false: every due session is checked at once, at the
   * configured concurrency (tests, and callers that want the work done now).
   */
  paced?: boolean;
}

export class ReverifyScheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepReport>;
  private stopped = true;
  /** Set by stop(): a sweep in progress takes no further batch and starts no further paced check. */
  private closing = false;
  /** The waits of a paced sweep in progress: stop() cuts them short. */
  private readonly wakers = new Set<() => void>();
  private readonly clock: SweepClock;
  /** The real time a paced sweep spreads its checks over, ms. */
  private readonly windowMs: number;

  constructor(private readonly options: SchedulerOptions) {
    this.clock = options.clock ?? realClock;
    this.windowMs = Math.min(0.8 * options.sweepIntervalMs, options.leaseMs / 2);
  }

  /** Sweeps on a timer until stop(); the first sweep comes after one (jittered) interval. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.closing = false;
    this.arm(this.jitteredInterval());
  }

  /**
   * Stops the timer and waits for a sweep in progress: its remaining batches are not taken and its paced checks not
   * yet started are not started (they stay leased, and come back due when the lease runs out).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closing = true;
    for (const wake of this.wakers) wake();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private jitteredInterval(): number {
    const random = this.options.random ?? Math.random;
    return this.options.sweepIntervalMs * (0.8 + 0.4 * random());
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => {
      const nextAt = this.clock.monotonic() + this.jitteredInterval();
      this.sweepOnce({ paced: true })
        .catch((err: unknown) => this.options.logger.error({ err: { message: (err as Error)?.message } }, 'session re-verification sweep failed'))
        .finally(() => {
          if (!this.stopped) this.arm(Math.max(0, nextAt - this.clock.monotonic()));
        });
    }, delayMs);
    this.timer.unref();
  }

  /** Takes and checks due sessions, batch after batch, until fewer than a full batch are due (or stop()). */
  sweepOnce(options: SweepOptions = {}): Promise<SweepReport> {
    this.running ??= this.sweep(options.paced === true).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweep(paced: boolean): Promise<SweepReport> {
    const { sessions, batchSize, leaseMs, now, logger, sweepIntervalMs } = this.options;
    const report: SweepReport = { taken: 0, outcomes: { verified: 0, unchanged: 0, marked: 0, ended: 0, unreachable: 0, gone: 0, failed: 0 }, lagMs: 0, behind: false, forced: 0 };
    const startedAt = now();
    const windowEndsAt = this.clock.monotonic() + this.windowMs;
    // Sessions due longer ago than the longest wait between sweeps are late: they are checked first, unspread.
    let spanFrom = startedAt - 1.2 * sweepIntervalMs;
    for (;;) {
      const due = await sessions.takeDue(now(), batchSize, leaseMs);
      report.taken += due.length;
      for (const entry of due) report.lagMs = Math.max(report.lagMs, startedAt - entry.dueAt);
      if (paced) {
        // This batch's share of the window: the part of the due times still to cover that it covers (the last batch: all).
        const spanTo = due.at(-1)?.dueAt ?? startedAt;
        const share = due.length < batchSize || startedAt <= spanFrom ? 1 : Math.min(1, Math.max(0, (spanTo - spanFrom) / (startedAt - spanFrom)));
        await this.checkPaced(due, report, Math.max(0, windowEndsAt - this.clock.monotonic()) * share);
        spanFrom = Math.max(spanFrom, spanTo);
      } else {
        await this.checkAll(due, report);
      }
      if (due.length < batchSize || this.closing) break;
    }
    report.behind = report.lagMs > 2 * sweepIntervalMs;
    if (report.behind) logger.warn({ lagMs: report.lagMs, taken: report.taken }, 'session re-verification is behind schedule');
    else if (report.taken > 0) logger.debug({ taken: report.taken, outcomes: report.outcomes, forced: report.forced }, 'session re-verification sweep');
    this.options.onSweep?.(report);
    return report;
  }

  /** Runs the checks of one batch, at most `concurrency` at a time; a failed check stays leased and comes back due. */
  private async checkAll(due: readonly DueSession[], report: SweepReport): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < due.length) await this.runCheck(due[next++]!, report);
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, due.length) }, worker));
  }

  /**
   * Starts the checks of one batch over `windowMs`, each around its share of it, at most `concurrency` at a time, one
   * per turn of the event loop while on schedule. Requests go first: a check starts in a moment without requests in
   * flight, as early as a quarter of the sweep's window before its planned time (idle moments do the work ahead, so a
   * burst of requests finds it done), and while requests keep coming, at a quarter of the window past its planned time
   * at the latest (so the sweep keeps its pace under constant traffic, late by at most that; `report.forced` counts these).
   */
  private async checkPaced(due: readonly DueSession[], report: SweepReport, windowMs: number): Promise<void> {
    const { clock } = this;
    const slackMs = this.windowMs / 4;
    const begin = clock.monotonic();
    const running = new Set<Promise<void>>();
    for (let i = 0; i < due.length && !this.closing; i += 1) {
      const plannedAt = begin + (windowMs * i) / due.length;
      await this.pause(plannedAt - slackMs - clock.monotonic());
      while (running.size >= this.options.concurrency) await Promise.race(running);
      if (await this.yieldToRequests(plannedAt + slackMs)) report.forced += 1;
      if (this.closing) break;
      const run: Promise<void> = this.runCheck(due[i]!, report).finally(() => running.delete(run));
      running.add(run);
      // A request that arrived meanwhile is read before the next check starts; but a sweep already past the next
      // check's latest start gives up no turn, or a saturated event loop (long turns) would hold it below its pace.
      if (clock.monotonic() < begin + (windowMs * (i + 1)) / due.length + slackMs) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await Promise.all(running);
  }

  /**
   * Waits while the broker answers requests, until `deadline` at the latest: woken by whenIdle() when given, else
   * polling, backing off so constant traffic costs few wake-ups. True when the deadline came with requests still in
   * flight (the check starts among them).
   */
  private async yieldToRequests(deadline: number): Promise<boolean> {
    const { busy, whenIdle } = this.options;
    for (let poll = YIELD_POLL_MS; !this.closing && busy?.(); poll = Math.min(2 * poll, YIELD_POLL_MAX_MS)) {
      const left = deadline - this.clock.monotonic();
      if (left <= 0) return true;
      await this.pause(whenIdle ? left : Math.min(poll, left), whenIdle?.());
    }
    return false;
  }

  /** Waits `ms` of the sweep clock, or until stop() or `until` settles. */
  private async pause(ms: number, until?: Promise<void>): Promise<void> {
    if (ms <= 0 || this.closing) return;
    let wake = () => {};
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.wakers.add(wake);
    try {
      await Promise.race([this.clock.sleep(ms), woken, ...(until ? [until] : [])]);
    } finally {
      this.wakers.delete(wake);
    }
  }

  private async runCheck(entry: DueSession, report: SweepReport): Promise<void> {
    try {
      const outcome = await this.checkOne(entry);
      report.outcomes[outcome] += 1;
    } catch (err) {
      report.outcomes.failed += 1;
      this.options.logger.warn({ err: { message: (err as Error)?.message }, accountId: entry.accountId }, 'session re-verification failed; retried after the lease');
    }
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
