/**
 * Commits of index rows, in one of two ways:
 *
 * - add() resolves only after its row's transaction committed. With group
 *   commits, rows added during one turn of the event loop are written in one
 *   SQLite transaction, so stores that finish together on several
 *   associations share one commit (and, with synchronous = FULL, one fsync of
 *   the write-ahead log). Without them, add() commits its row at once.
 * - defer() returns at once, and the row is committed with others within
 *   DEFERRED_COMMIT_DELAY_MS. The caller keeps a second link of the stored
 *   file in .incoming until then, and this queue deletes it after the commit.
 *   When the process stops first, the next archive open indexes the file from
 *   that link (see incoming.ts). 'process-crash' durability uses this, so the
 *   C-STORE response does not wait for the commit, and one commit carries
 *   many rows: each commit rewrites the index pages it touched, about seven
 *   pages for a single row.
 */

import fs from 'node:fs';
import { RepeatLimiter, type Logger } from '../logger';
import { IndexConflictError, OtherPatientError, otherPatientConflict, type ArchiveCatalog, type IndexEntry, type OtherPatientConflict } from './catalog';
import { describeError } from './errors';
import type { InstanceRecord } from './instance-record';
import { indexPath } from './layout';
import { keepConflictOnce, keepConflictSync, otherPatientFields, transferSyntaxFields } from './placement';
import { describeIndexWriteFailure } from './storage-errors';

/** Maximum time in milliseconds a deferred row waits for its commit. */
export const DEFERRED_COMMIT_DELAY_MS = 20;

/** Deferred rows that start a commit before the delay has passed. */
const MAX_DEFERRED_ROWS = 200;

/**
 * Wait before a deferred commit that found the index locked is tried again,
 * and the number of tries. Each try already waits up to the index's
 * busy_timeout (5 s) for the lock.
 */
const LOCKED_RETRY_DELAY_MS = 1000;
const MAX_COMMIT_TRIES = 5;

/**
 * Rows whose deferred commit failed that the queue keeps, to commit them
 * again once a commit succeeds. Rows beyond it are indexed by the next
 * archive open from their second links.
 */
const MAX_FAILED_ROWS = 10_000;

interface PendingEntry extends IndexEntry {
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface DeferredEntry extends IndexEntry {
  /** The stored file's second link in .incoming, deleted after the commit. */
  secondLink: string;
  /** Commits tried so far that found the index locked. */
  lockedTries: number;
}

export class IndexWriteQueue {
  private pending: PendingEntry[] = [];
  private deferred = new Map<string, DeferredEntry>();
  private scheduled: NodeJS.Immediate | undefined;
  private deferredTimer: NodeJS.Timeout | undefined;
  /** Deferred rows whose commit failed, committed again after the next commit that succeeds. */
  private readonly failedRows = new Map<string, DeferredEntry>();
  /** The error of the last failed deferred commit, until a commit succeeds again. */
  private commitFailure: string | undefined;
  /** One line per distinct error of deferred rows, then a count of the repeats per minute. */
  private readonly failureLog: RepeatLimiter;
  /**
   * The switches between deferred and synchronous commits. A small commit can succeed while
   * the retry of many rows fails again, so both switches may repeat, and they are counted too.
   */
  private readonly failingLog: RepeatLimiter;
  private readonly recoveredLog: RepeatLimiter;

  /** `catalog` is a getter because reindex replaces the archive's catalog. */
  constructor(
    private readonly catalog: () => ArchiveCatalog,
    private readonly logger: Logger,
    private readonly options: { groupCommits: boolean } = { groupCommits: true },
  ) {
    this.failureLog = new RepeatLimiter(
      logger,
      'error',
      'Failed to index a stored instance; its file stays in the archive, and the next successful commit or archive open indexes it',
    );
    this.failingLog = new RepeatLimiter(
      logger,
      'warn',
      'Deferred index commits fail, so each store now waits for its own index commit and fails while that fails too, until a commit succeeds',
    );
    this.recoveredLog = new RepeatLimiter(logger, 'info', 'Index commits succeed again, so stores return before their index commit again');
  }

  /**
   * True after a deferred commit failed and until a commit succeeds again.
   * Placement then adds rows with add() instead of defer(), so a store
   * reports success only when its row is committed.
   */
  get commitsFailing(): boolean {
    return this.commitFailure !== undefined;
  }

  /** Commits or queues one row; resolves after it is committed, rejects with the error of its insert or of the commit. */
  add(entry: IndexEntry): Promise<void> {
    if (!this.options.groupCommits && this.pending.length === 0 && this.deferred.size === 0 && !this.catalog().db.inTransaction) {
      try {
        this.catalog().addInstance(entry.record, entry.file, entry.source, { rejectConflicts: entry.rejectConflicts });
      } catch (error) {
        return Promise.reject(error);
      }
      this.commitSucceeded();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ ...entry, resolve, reject });
      this.scheduled ??= setImmediate(() => this.flushScheduled());
    });
  }

  /**
   * Queues one row of a file placed into the layout, whose second link
   * `secondLink` the caller keeps in .incoming. A row that fails to commit
   * is logged, and its second link stays for the next archive open.
   */
  defer(entry: IndexEntry, secondLink: string): void {
    const sopInstanceUid = entry.record.instance.sopInstanceUid;
    // A second store of the UID replaces the queued row, as addInstance replaces a committed one.
    const replaced = this.deferred.get(sopInstanceUid);
    if (replaced) this.deleteSecondLink(replaced);
    this.deferred.set(sopInstanceUid, { ...entry, secondLink, lockedTries: 0 });

    if (this.deferred.size >= MAX_DEFERRED_ROWS) {
      this.scheduled ??= setImmediate(() => this.flushScheduled());
    } else if (!this.deferredTimer) {
      this.deferredTimer = setTimeout(() => {
        this.deferredTimer = undefined;
        this.scheduled ??= setImmediate(() => this.flushScheduled());
      }, DEFERRED_COMMIT_DELAY_MS);
      this.deferredTimer.unref();
    }
  }

  /** Returns the queued row with this SOP Instance UID, or undefined. */
  queuedEntry(sopInstanceUid: string): IndexEntry | undefined {
    return this.deferred.get(sopInstanceUid);
  }

  /**
   * Returns the conflict when a queued row has the record's Study Instance UID
   * or Series Instance UID under another Patient ID, as
   * ArchiveCatalog.findOtherPatient does for committed rows.
   */
  findQueuedOtherPatient(record: InstanceRecord): OtherPatientConflict | undefined {
    for (const entry of this.deferred.values()) {
      const queued = entry.record;
      const level =
        queued.study.studyInstanceUid === record.study.studyInstanceUid
          ? 'study'
          : queued.series.seriesInstanceUid === record.series.seriesInstanceUid
            ? 'series'
            : undefined;
      const conflict = level && otherPatientConflict(level, queued.patient.patientId, record);
      if (conflict) return conflict;
    }
    return undefined;
  }

  /** True when rows wait for a commit; readers call flush() first to see them. */
  get hasQueuedRows(): boolean {
    return this.pending.length > 0 || this.deferred.size > 0;
  }

  /** Commits every queued row now; the archive calls it before it reads, closes or replaces the database. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    if (this.deferredTimer) clearTimeout(this.deferredTimer);
    this.scheduled = undefined;
    this.deferredTimer = undefined;
    const waiting = this.pending;
    const deferred = [...this.deferred.values()];
    this.pending = [];
    this.deferred.clear();
    if (waiting.length === 0 && deferred.length === 0) return;

    let errors: unknown[];
    try {
      errors = this.catalog().addInstances([...waiting, ...deferred]);
    } catch (error) {
      for (const entry of waiting) entry.reject(error);
      this.retryOrReport(deferred, error);
      return;
    }
    if (errors.some((error) => error === undefined)) this.commitSucceeded();
    waiting.forEach((entry, index) => {
      if (errors[index] === undefined) entry.resolve();
      else entry.reject(errors[index]);
    });
    deferred.forEach((entry, index) => {
      const error = errors[waiting.length + index];
      if (error === undefined) this.deleteSecondLink(entry);
      else if (error instanceof IndexConflictError) this.keepLateConflict(entry, error);
      else this.reportDeferredFailure(entry, error);
    });
  }

  private flushScheduled(): void {
    this.scheduled = undefined;
    // A scan commits its batch transaction before it yields to the event loop, so this is a guard:
    // rows written inside another open transaction would be reported before that one commits.
    if (this.catalog().db.inTransaction) {
      this.scheduled = setImmediate(() => this.flushScheduled());
      return;
    }
    this.flush();
  }

  /** Queues deferred rows again after a commit found the index locked by another process; reports other failures. */
  private retryOrReport(entries: DeferredEntry[], error: unknown): void {
    const retried = isLockedError(error) ? entries.filter((entry) => entry.lockedTries + 1 < MAX_COMMIT_TRIES) : [];
    for (const entry of entries) {
      if (!retried.includes(entry)) this.reportDeferredFailure(entry, error);
    }
    if (retried.length === 0) return;

    for (const entry of retried) {
      const sopInstanceUid = entry.record.instance.sopInstanceUid;
      if (!this.deferred.has(sopInstanceUid)) this.deferred.set(sopInstanceUid, { ...entry, lockedTries: entry.lockedTries + 1 });
    }
    this.logger.warn('The archive index is locked by another process; retrying the commit of stored instances', {
      count: retried.length,
      retryInMs: LOCKED_RETRY_DELAY_MS,
      error: describeError(error),
    });
    if (this.deferredTimer) clearTimeout(this.deferredTimer);
    this.deferredTimer = setTimeout(() => {
      this.deferredTimer = undefined;
      this.scheduled ??= setImmediate(() => this.flushScheduled());
    }, LOCKED_RETRY_DELAY_MS);
    this.deferredTimer.unref();
  }

  /**
   * Handles a deferred row that the index rejected: its UID was indexed by
   * another process with another file after placement looked it up, or its
   * series belongs to another study. The new file goes to .conflicts, and
   * the stored file stays. The move and its log line happen at once, so the
   * file is safe when this commit returns. A check that follows deletes the
   * new copy again when .conflicts already has one with the same data set.
   */
  private keepLateConflict(entry: DeferredEntry, conflict: IndexConflictError): void {
    const sopInstanceUid = entry.record.instance.sopInstanceUid;
    try {
      const layoutFile = fs.statSync(entry.file.path);
      const secondLink = fs.statSync(entry.secondLink);
      // Only this entry's own file leaves the layout, never one another writer placed under the same name.
      if (layoutFile.ino === secondLink.ino && layoutFile.dev === secondLink.dev) fs.unlinkSync(entry.file.path);
      const conflictPath = keepConflictSync(this.catalog().root, entry.secondLink, sopInstanceUid);
      const message =
        conflict instanceof OtherPatientError
          ? 'Received an instance of another Patient ID for a stored study or series; kept it aside'
          : conflict.storedPath !== undefined
            ? 'Received different content for a stored SOP Instance UID; kept it aside'
            : 'Received an instance that conflicts with the index; kept it aside';
      const storedSyntax = this.catalog().findInstance(sopInstanceUid)?.transferSyntaxUid;
      const syntaxes = transferSyntaxFields(storedSyntax, entry.record.instance.transferSyntaxUid);
      this.logger.warn(message, {
        sopInstanceUid,
        sourceAeTitle: entry.file.sourceAeTitle,
        source: entry.source,
        storedPath: conflict.storedPath,
        reason: conflict.message,
        conflictPath,
        ...syntaxes,
        ...(conflict instanceof OtherPatientError ? otherPatientFields(conflict.conflict) : {}),
      });
      void this.removeRepeatedConflict(entry, this.catalog().root, conflictPath);
    } catch (error) {
      this.reportDeferredFailure(entry, error);
    }
  }

  /**
   * Deletes `conflictPath`, the copy of `entry` just kept aside, when
   * .conflicts already has a copy with the same data set (keepConflictOnce).
   * It runs after flush() has returned, because the comparison is
   * asynchronous (it reads both files as streams) and flush() is not.
   */
  private async removeRepeatedConflict(entry: DeferredEntry, root: string, conflictPath: string): Promise<void> {
    const sopInstanceUid = entry.record.instance.sopInstanceUid;
    try {
      const earlier = await keepConflictOnce(root, conflictPath, sopInstanceUid);
      if (earlier === undefined) return;
      // Still a conflict, so it stays a warning, as the repeated conflicts that placement finds on receipt.
      this.logger.warn('Received content that conflicts with the archive and equals a copy kept aside before; removed the repeated copy', {
        sopInstanceUid,
        sourceAeTitle: entry.file.sourceAeTitle,
        source: entry.source,
        removedPath: conflictPath,
        conflictPath: earlier.path,
      });
    } catch (error) {
      this.logger.warn('Failed to compare a copy kept aside with the earlier copies of its SOP Instance UID; both stay in .conflicts', {
        sopInstanceUid,
        conflictPath,
        error: describeError(error),
      });
    }
  }

  private deleteSecondLink(entry: DeferredEntry): void {
    try {
      fs.unlinkSync(entry.secondLink);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.logger.warn('Failed to remove the second link of a stored file; the next archive open removes it', {
        sopInstanceUid: entry.record.instance.sopInstanceUid,
        path: entry.secondLink,
        error: describeError(error),
      });
    }
  }

  /** Writes the summaries of repeated failures; the archive calls it when it closes. */
  flushLog(): void {
    for (const repeats of [this.failureLog, this.failingLog, this.recoveredLog]) repeats.flush();
  }

  /**
   * Logs a deferred row that failed to commit and keeps it for the next
   * commit that succeeds. The first failure also switches placement to
   * add() (see commitsFailing). Repeats of one error are counted, because
   * every row of a failed commit fails with the same error.
   */
  private reportDeferredFailure(entry: DeferredEntry, error: unknown): void {
    const sopInstanceUid = entry.record.instance.sopInstanceUid;
    const root = this.catalog().root;
    const failure = describeIndexWriteFailure(error, indexPath(root));
    const reason = failure?.detail ?? describeError(error);
    if (this.commitFailure === undefined) this.failingLog.report({ root, error: reason });
    this.commitFailure = reason;
    if (this.failedRows.size < MAX_FAILED_ROWS) this.failedRows.set(sopInstanceUid, entry);
    this.failureLog.report(
      { sopInstanceUid, path: entry.file.path, secondLink: entry.secondLink, sourceAeTitle: entry.file.sourceAeTitle, error: reason },
      undefined,
      // Keyed by the short reason, because the detail names file sizes that change from one failure to the next.
      failure?.comment ?? reason,
    );
  }

  /** Ends the failure state after a commit succeeded, and queues the rows whose deferred commit failed again. */
  private commitSucceeded(): void {
    if (this.commitFailure === undefined) return;
    this.commitFailure = undefined;
    let requeued = 0;
    for (const [sopInstanceUid, entry] of this.failedRows) {
      // A later store of the UID may have indexed it, and the open of another process may have taken the second link.
      if (this.deferred.has(sopInstanceUid) || !fs.existsSync(entry.secondLink)) continue;
      this.deferred.set(sopInstanceUid, { ...entry, lockedTries: 0 });
      requeued++;
    }
    this.failedRows.clear();
    this.recoveredLog.report({ root: this.catalog().root, requeuedRows: requeued });
    if (requeued > 0) this.scheduled ??= setImmediate(() => this.flushScheduled());
  }
}

/** True for SQLite's errors of a lock held by another connection (SQLITE_BUSY and SQLITE_LOCKED with their extended codes). */
function isLockedError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}
