/**
 * Events of the window's PACS server collapsed into one notice per key, so the
 * window shows each sender and cause once, with a count, instead of a new
 * message for each retry or each instance.
 */

/** Time after an event in which another event of the same key updates the same notice, in milliseconds. */
export const NOTICE_REPEAT_WINDOW_MS = 60_000;

/** The latest event of one key, with the number of events it counts. */
export interface RepeatedNotice<T> {
  /** The key that the events of this notice share, such as a calling AE title. */
  key: string;
  event: T;
  /** Events of this key within the repeat window, this one included. */
  count: number;
  /** Time of the latest event, in milliseconds since the epoch. */
  lastAt: number;
}

/** Collects events per key and notifies the listeners of each one with the updated count. */
export class RepeatedNotices<T> {
  private readonly notices = new Map<string, RepeatedNotice<T>>();
  private readonly listeners = new Set<(notice: RepeatedNotice<T>) => void>();

  constructor(
    private readonly keyOf: (event: T) => string,
    private readonly repeatWindowMs = NOTICE_REPEAT_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (notice: RepeatedNotice<T>) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Records one event and notifies the listeners with its notice. */
  add(event: T): void {
    const now = this.now();
    const key = this.keyOf(event);
    const previous = this.notices.get(key);
    const repeated = previous !== undefined && now - previous.lastAt <= this.repeatWindowMs;
    const notice = { key, event, count: repeated ? previous.count + 1 : 1, lastAt: now };
    this.notices.set(key, notice);
    for (const listener of this.listeners) listener(notice);
  }
}

/**
 * Puts a notice at the start of a list of shown notices, newest first, in place of the earlier
 * notice of its key. A notice that the user hid is not in the list, so a new event of its key shows it again.
 */
export function withNotice<T>(shownNotices: readonly RepeatedNotice<T>[], notice: RepeatedNotice<T>): RepeatedNotice<T>[] {
  return [notice, ...shownNotices.filter((other) => other.key !== notice.key)];
}

/** Removes the notice of a key from a list of shown notices. */
export function withoutNotice<T>(shownNotices: readonly RepeatedNotice<T>[], key: string): RepeatedNotice<T>[] {
  return shownNotices.filter((notice) => notice.key !== key);
}
