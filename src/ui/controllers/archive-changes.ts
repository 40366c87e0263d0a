/**
 * Notifications that the loader's PACS server added instances to an archive,
 * so Local panels that show it list new studies without a manual refresh.
 */

/**
 * Time from the first instance stored after a notification to the next
 * notification, in milliseconds. While a study arrives, a Local panel is
 * listed again about once per interval instead of once per instance, and
 * the last instances show up at most this long after they are stored.
 */
export const ARCHIVE_CHANGE_DELAY_MS = 1_000;

/** Instances stored in one archive since the previous notification. */
export interface ArchiveChange {
  /** Root folder of the archive, as the server opened it. */
  root: string;
  instances: number;
  studyInstanceUids: string[];
}

export type ArchiveChangeListener = (change: ArchiveChange) => void;

/**
 * Collects stored instances per archive and notifies the listeners at most
 * once per `delayMs`, with one change for each archive that got instances.
 */
export class ArchiveChangeNotifier {
  private readonly pending = new Map<string, { instances: number; studyInstanceUids: Set<string> }>();
  private readonly listeners = new Set<ArchiveChangeListener>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly delayMs = ARCHIVE_CHANGE_DELAY_MS) {}

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: ArchiveChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Records one instance stored in the archive at `root`; the listeners hear of it at most delayMs later. */
  instanceStored(root: string, studyInstanceUid: string): void {
    let entry = this.pending.get(root);
    if (!entry) {
      entry = { instances: 0, studyInstanceUids: new Set() };
      this.pending.set(root, entry);
    }
    entry.instances += 1;
    entry.studyInstanceUids.add(studyInstanceUid);
    this.timer ??= setTimeout(() => this.flush(), this.delayMs);
  }

  /** Notifies the listeners of every pending change now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const changes = [...this.pending].map(([root, entry]) => ({ root, instances: entry.instances, studyInstanceUids: [...entry.studyInstanceUids] }));
    this.pending.clear();
    for (const change of changes) {
      for (const listener of this.listeners) listener(change);
    }
  }

  /** Drops pending changes and stops the timer, for example when the window closes. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}
