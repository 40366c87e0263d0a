/**
 * Commits of index rows. add() resolves only after its row's transaction
 * committed.
 *
 * With group commits, rows added during one turn of the event loop are written
 * in one SQLite transaction, so stores that finish together on several
 * associations share one commit (and, with synchronous = FULL, one fsync of
 * the write-ahead log). A row waits at most until the next setImmediate phase.
 * Without them, add() commits its row at once, which suits synchronous =
 * NORMAL, where a commit does not wait for the disk.
 */

import type { ArchiveCatalog, IndexEntry } from './catalog';

interface PendingEntry extends IndexEntry {
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class IndexWriteQueue {
  private pending: PendingEntry[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  /** `catalog` is a getter because reindex replaces the archive's catalog. */
  constructor(
    private readonly catalog: () => ArchiveCatalog,
    private readonly options: { groupCommits: boolean } = { groupCommits: true },
  ) {}

  /** Commits or queues one row; resolves after it is committed, rejects with the error of its insert or of the commit. */
  add(entry: IndexEntry): Promise<void> {
    if (!this.options.groupCommits && this.pending.length === 0 && !this.catalog().db.inTransaction) {
      try {
        this.catalog().addInstance(entry.record, entry.file, entry.source);
      } catch (error) {
        return Promise.reject(error);
      }
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ ...entry, resolve, reject });
      this.scheduled ??= setImmediate(() => this.flushScheduled());
    });
  }

  /** Commits every queued row now; the archive calls it before it closes or replaces the database. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;

    let errors: unknown[];
    try {
      errors = this.catalog().addInstances(batch);
    } catch (error) {
      for (const entry of batch) entry.reject(error);
      return;
    }
    batch.forEach((entry, index) => {
      if (errors[index] === undefined) entry.resolve();
      else entry.reject(errors[index]);
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
}
