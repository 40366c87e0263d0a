/**
 * Iterative folder walk shared by the scan and reindex. Each real folder is
 * entered once (keyed by device and inode), so symbolic link loops end.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describeError } from './errors';

export interface WalkProblem {
  path: string;
  reason: string;
}

export interface FileWalkerOptions {
  /** Returns true for folder or file names to skip, e.g. dot folders. */
  skipName?: (name: string, isDirectory: boolean) => boolean;
  /** Absolute real paths of folders not to enter. */
  skipFolders?: string[];
}

export class FileWalker {
  private readonly pending: string[] = [];
  private readonly visitedFolders = new Set<string>();
  /** Folders or files that could not be read, with the reason. */
  readonly problems: WalkProblem[] = [];

  constructor(
    roots: string[],
    private readonly options: FileWalkerOptions = {},
  ) {
    // Reversed so the roots are visited in the given order.
    for (const root of [...roots].reverse()) this.pending.push(path.resolve(root));
  }

  /** Adds a file or folder to visit, e.g. a file a DICOMDIR references. */
  push(entry: string): void {
    this.pending.push(entry);
  }

  /** Returns the next file path, or undefined when the walk is done. */
  next(): string | undefined {
    for (;;) {
      const entry = this.pending.pop();
      if (entry === undefined) return undefined;

      let stats: fs.Stats;
      try {
        stats = fs.statSync(entry);
      } catch (error) {
        this.problems.push({ path: entry, reason: describeError(error) });
        continue;
      }
      if (stats.isFile()) return entry;
      if (stats.isDirectory()) this.enterFolder(entry, stats);
    }
  }

  private enterFolder(folder: string, stats: fs.Stats): void {
    const key = `${stats.dev}:${stats.ino}`;
    if (this.visitedFolders.has(key)) return;
    this.visitedFolders.add(key);
    if (this.options.skipFolders?.length) {
      try {
        if (this.options.skipFolders.includes(fs.realpathSync.native(folder))) return;
      } catch (error) {
        this.problems.push({ path: folder, reason: describeError(error) });
        return;
      }
    }

    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(folder, { withFileTypes: true });
    } catch (error) {
      this.problems.push({ path: folder, reason: describeError(error) });
      return;
    }
    // Pushed in reverse name order, so they are popped in name order.
    entries.sort((a, b) => (a.name < b.name ? 1 : -1));
    for (const entry of entries) {
      if (this.options.skipName?.(entry.name, entry.isDirectory())) continue;
      this.pending.push(path.join(folder, entry.name));
    }
  }
}
