/**
 * Repeated sync runs for `loader serve --sync`. Every schedule runs once at
 * start and then every interval, measured from the start of its previous
 * run. Runs of all schedules go one at a time, because a relay retrieves
 * through the single pacs.moveScuPort. A run that is due while another runs
 * waits for it. A run whose job another process runs, such as a `loader sync`
 * of the same ends started by hand, is skipped until the next interval.
 */
import { createLogger } from '../logger';
import { JobRunningError, NodeLimiter } from '../migration';
import type { SyncReport } from './sync';

const logger = createLogger('loader.sync');

/** Shortest interval accepted, so a typing error cannot make the server query its peers without pause. */
export const MIN_SYNC_INTERVAL_MS = 10_000;

export interface ScheduledSync {
  /** Label for logs, e.g. "orthanc pacs". */
  label: string;
  intervalMs: number;
  /** Runs one sync; the signal aborts it when the scheduler stops. */
  run: (signal: AbortSignal) => Promise<SyncReport>;
}

/** Parses an interval such as 30s, 15m or 2h into milliseconds; throws RangeError for other text or one below MIN_SYNC_INTERVAL_MS. */
export function parseInterval(text: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(text.trim().toLowerCase());
  if (!match) throw new RangeError(`interval "${text}" is invalid: use a whole number followed by s, m or h, e.g. 15m`);
  const unitMs = { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
  const ms = Number(match[1]) * unitMs;
  if (ms < MIN_SYNC_INTERVAL_MS) throw new RangeError(`interval "${text}" is too short: use ${MIN_SYNC_INTERVAL_MS / 1000}s or more`);
  return ms;
}

/** Writes one line per finished run with the node names and counts. */
function logRun(label: string, report: SyncReport, durationMs: number): void {
  const { comparison, summary } = report;
  logger.info('Scheduled sync run finished', {
    schedule: label,
    a: report.a,
    b: report.b,
    outcome: report.outcome,
    studiesOnA: comparison.studiesOnA,
    studiesOnB: comparison.studiesOnB,
    missingOnA: comparison.missingOnA.length,
    missingOnB: comparison.missingOnB.length,
    mismatched: comparison.mismatched.length,
    conflicts: summary.conflicts,
    transferred: summary.transferred,
    failed: summary.failed,
    pending: summary.pending,
    durationMs,
  });
}

export class SyncScheduler {
  private readonly oneAtATime = new NodeLimiter(1);
  private readonly abort = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly schedules: ScheduledSync[]) {}

  /** Starts every schedule; the first runs begin at once, one after another. */
  start(): void {
    for (const schedule of this.schedules) {
      logger.info('Sync scheduled', { schedule: schedule.label, intervalSeconds: schedule.intervalMs / 1000 });
      this.runAndReschedule(schedule);
    }
  }

  /** Cancels the timers, aborts the current run and waits until it has stopped. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.abort.abort();
    await Promise.all([...this.running]);
  }

  private runAndReschedule(schedule: ScheduledSync): void {
    const task = this.runOnce(schedule).finally(() => this.running.delete(task));
    this.running.add(task);
  }

  private async runOnce(schedule: ScheduledSync): Promise<void> {
    const due = Date.now();
    await this.oneAtATime.run(['sync'], async () => {
      if (this.stopped) return;
      const started = Date.now();
      if (started - due > schedule.intervalMs) logger.warn('Scheduled sync started late because other runs took longer than its interval', { schedule: schedule.label, delayMs: started - due });
      try {
        const report = await schedule.run(this.abort.signal);
        logRun(schedule.label, report, Date.now() - started);
      } catch (error) {
        if (error instanceof JobRunningError) {
          logger.warn('Scheduled sync run skipped: another run has its job', { schedule: schedule.label, job: error.jobId, pid: error.owner.pid, host: error.owner.host });
          return;
        }
        logger.error('Scheduled sync run failed', { schedule: schedule.label, error: error instanceof Error ? error.message : String(error) });
      }
    });
    if (this.stopped) return;
    const delay = Math.max(0, due + schedule.intervalMs - Date.now());
    if (delay === 0) logger.warn('Scheduled sync took longer than its interval; starting the next run now', { schedule: schedule.label });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.runAndReschedule(schedule);
    }, delay);
    this.timers.add(timer);
  }
}
