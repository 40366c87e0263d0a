/**
 * Iterative folder walk shared by the scan and reindex.
 *
 * Symbolic links to files are followed. A symbolic link to a folder is
 * followed only when the folder's real path is inside one of the roots and
 * outside the skipped folders, and the walk has not entered that folder yet. Each real folder is entered once
 * (keyed by device and inode), so link loops end, and links that lead out of
 * the roots, back to a folder already walked, or nowhere are listed in
 * `skippedLinks` instead of being walked. FIFOs, sockets and device files,
 * reached directly or through a link, are listed in `specialFiles` and never
 * returned, because opening a FIFO blocks until a writer opens it. With
 * holdBackMediaFolders, a folder that contains a DICOMDIR yields only the
 * DICOMDIR until the caller asks for the rest.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describeError, describeReadError } from './errors';

export interface WalkProblem {
  path: string;
  reason: string;
  /** The file system's error code, such as EACCES, for an entry that could not be opened or listed. */
  code?: string;
  /** True when `path` is a folder that could not be listed. */
  isFolder?: boolean;
  /** For a symbolic link not followed because it leads into a folder of FileWalkerOptions.skipFolders: that folder. */
  skippedFolder?: string;
  /** For a symbolic link not followed because it leads into a skipped folder: the real path it leads to. */
  target?: string;
}

export interface FileWalkerOptions {
  /** Returns true for folder or file names to skip, e.g. dot folders. */
  skipName?: (name: string, isDirectory: boolean) => boolean;
  /** Absolute real paths of folders not to enter, also through a symbolic link to them or to a folder inside them. */
  skipFolders?: string[];
  /**
   * Treats a folder that contains a file named DICOMDIR as DICOM media (PS3.10
   * section 8): the walk returns only the DICOMDIR and holds the folder's other
   * entries back until walkHeldBackEntries() is called for the folder.
   */
  holdBackMediaFolders?: boolean;
}

export class FileWalker {
  private readonly pending: string[] = [];
  private readonly visitedFolders = new Set<string>();
  /** Real paths of the roots that exist; a folder link is followed only into these. */
  private readonly realRoots: string[] = [];
  /** Folders or files that the file system failed to open or list, with the reason and what to do. */
  readonly problems: WalkProblem[] = [];
  /** Symbolic links that were not followed, with the reason. */
  readonly skippedLinks: WalkProblem[] = [];
  /** Entries that are neither regular files nor folders (FIFOs, sockets, device files), with their type; they are not opened. */
  readonly specialFiles: WalkProblem[] = [];
  /** Entries held back from folders that contain a DICOMDIR, by the DICOMDIR path that next() returned. */
  private readonly heldBack = new Map<string, string[]>();

  constructor(
    roots: string[],
    private readonly options: FileWalkerOptions = {},
  ) {
    for (const root of roots) {
      try {
        this.realRoots.push(fs.realpathSync.native(root));
      } catch {
        // next() reports a root that cannot be resolved when it stats it.
      }
    }
    // Reversed so the roots are visited in the given order.
    for (const root of [...roots].reverse()) this.pending.push(path.resolve(root));
  }

  /** Adds a file or folder to visit, e.g. a file a DICOMDIR references. */
  push(entry: string): void {
    this.pending.push(entry);
  }

  /**
   * Returns the entries held back beside `dicomdir` (see holdBackMediaFolders)
   * and forgets them: none when `dicomdir` is not a path that next() returned
   * from such a folder.
   */
  takeHeldBackEntries(dicomdir: string): string[] {
    const entries = this.heldBack.get(dicomdir) ?? [];
    this.heldBack.delete(dicomdir);
    return entries;
  }

  /** True when next() returned `file` as the DICOMDIR of a folder whose other entries are still held back. */
  holdsBackEntriesBeside(file: string): boolean {
    return this.heldBack.has(file);
  }

  /** Walks the entries held back beside `dicomdir`, for a DICOMDIR that could not be read. */
  walkHeldBackEntries(dicomdir: string): void {
    // Reversed so they are popped in name order.
    for (const entry of this.takeHeldBackEntries(dicomdir).reverse()) this.pending.push(entry);
  }

  /** Returns the next file path, or undefined when the walk is done. */
  next(): string | undefined {
    for (;;) {
      const entry = this.pending.pop();
      if (entry === undefined) return undefined;

      let linkStats: fs.Stats;
      let stats: fs.Stats;
      try {
        linkStats = fs.lstatSync(entry);
        stats = linkStats.isSymbolicLink() ? fs.statSync(entry) : linkStats;
      } catch (error) {
        this.recordStatFailure(entry, error);
        continue;
      }
      // An entry replaced by a FIFO after this check is rejected by the header reader, which opens without blocking.
      if (stats.isFile()) return entry;
      if (!stats.isDirectory()) {
        this.specialFiles.push({ path: entry, reason: describeSpecialFile(stats) });
        continue;
      }
      if (linkStats.isSymbolicLink() && !this.mayFollowFolderLink(entry, stats)) continue;
      this.enterFolder(entry, stats);
    }
  }

  private recordStatFailure(entry: string, error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code;
    let isLink = false;
    try {
      isLink = fs.lstatSync(entry).isSymbolicLink();
    } catch {
      // The entry itself is gone or unreadable; that is reported below as a problem.
    }
    if (!isLink) {
      this.problems.push({ path: entry, reason: describeFileSystemError(entry, error, 'file'), code });
    } else if (code === 'ELOOP') {
      this.skippedLinks.push({ path: entry, reason: 'symbolic link loop (ELOOP): following the links never reaches a file or folder' });
    } else if (code === 'ENOENT') {
      this.skippedLinks.push({ path: entry, reason: `broken symbolic link: its target ${readLinkTarget(entry)} does not exist` });
    } else {
      this.skippedLinks.push({ path: entry, reason: `symbolic link cannot be followed: ${describeError(error)}` });
    }
  }

  /** Returns true when a symbolic link to a folder may be walked, and records why not otherwise. */
  private mayFollowFolderLink(link: string, stats: fs.Stats): boolean {
    let target: string;
    try {
      target = fs.realpathSync.native(link);
    } catch (error) {
      this.skippedLinks.push({ path: link, reason: `symbolic link cannot be resolved: ${describeError(error)}` });
      return false;
    }
    const skippedFolder = this.options.skipFolders?.find((folder) => isInsideFolder(target, folder));
    if (skippedFolder !== undefined) {
      this.skippedLinks.push({ path: link, reason: `symbolic link to ${target}, inside ${skippedFolder}, which the walk skips`, skippedFolder, target });
      return false;
    }
    if (!this.realRoots.some((root) => isInsideFolder(target, root))) {
      this.skippedLinks.push({ path: link, reason: `symbolic link to ${target}, which is outside the scanned folders` });
      return false;
    }
    if (this.visitedFolders.has(folderKey(stats))) {
      this.skippedLinks.push({ path: link, reason: `symbolic link to ${target}, a folder the walk has already entered` });
      return false;
    }
    return true;
  }

  private enterFolder(folder: string, stats: fs.Stats): void {
    const key = folderKey(stats);
    if (this.visitedFolders.has(key)) return;
    this.visitedFolders.add(key);
    if (this.options.skipFolders?.length) {
      try {
        if (this.options.skipFolders.includes(fs.realpathSync.native(folder))) return;
      } catch (error) {
        this.problems.push({ path: folder, reason: describeFileSystemError(folder, error, 'folder'), code: errorCode(error), isFolder: true });
        return;
      }
    }

    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(folder, { withFileTypes: true });
    } catch (error) {
      this.problems.push({ path: folder, reason: describeFileSystemError(folder, error, 'folder'), code: errorCode(error), isFolder: true });
      return;
    }
    // Pushed in reverse name order, so they are popped in name order.
    entries.sort((a, b) => (a.name < b.name ? 1 : -1));
    const kept = entries.filter((entry) => !this.options.skipName?.(entry.name, entry.isDirectory()));
    const dicomdir = this.options.holdBackMediaFolders ? kept.find((entry) => isDicomdirEntry(entry)) : undefined;
    if (dicomdir !== undefined) {
      const dicomdirPath = path.join(folder, dicomdir.name);
      this.heldBack.set(dicomdirPath, kept.filter((entry) => entry !== dicomdir).map((entry) => path.join(folder, entry.name)).reverse());
      this.pending.push(dicomdirPath);
      return;
    }
    for (const entry of kept) this.pending.push(path.join(folder, entry.name));
  }
}

/**
 * Describes a file-system error on `entry` without repeating its path, with
 * what to do, because Node's own messages ("ENOENT: no such file or directory,
 * lstat …") give no remedy. Node decodes a name that is not valid UTF-8 with
 * U+FFFD in place of the invalid bytes, so such a file cannot be opened by the
 * name that readdir returns.
 */
export function describeFileSystemError(entry: string, error: unknown, kind: 'file' | 'folder'): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return describeReadError(error, kind);
  if (code === 'ENOENT' && entry.includes('\uFFFD')) {
    return (
      `the ${kind} name is not valid UTF-8 (ENOENT), so it cannot be opened by the name the system lists; ` +
      'mount the disc with the character set it was written in (for example the iocharset or codepage mount option), ' +
      `or rename the ${kind} to a UTF-8 name`
    );
  }
  if (code === 'ENAMETOOLONG') {
    return (
      `the path is too long for the file system (ENAMETOOLONG: at most 4096 bytes for a path and 255 for a name on Linux), ` +
      `so this ${kind} cannot be opened; move or rename its folders to make the path shorter and scan again`
    );
  }
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return `the ${kind} was removed or renamed during the scan (${code}); scan again when the disc or folder is stable`;
  }
  return `the ${kind} could not be read (${describeError(error)}); check the disc or file system and scan again`;
}

/** Returns the reason listed for an entry that is neither a regular file nor a folder: its type, and why it was not opened. */
function describeSpecialFile(stats: fs.Stats): string {
  if (stats.isFIFO()) return 'not a regular file but a FIFO (named pipe); it was not opened, because opening a FIFO waits for a program to write to it';
  if (stats.isSocket()) return 'not a regular file but a socket, which contains no stored data; it was not opened';
  if (stats.isBlockDevice()) return 'not a regular file but a block device (a disk or partition); it was not opened. Mount it and scan the mounted folder';
  if (stats.isCharacterDevice()) return 'not a regular file but a character device; it was not opened';
  return 'not a regular file; it was not opened';
}

/** Returns true for a file, or a symbolic link, named DICOMDIR in any case. */
function isDicomdirEntry(entry: fs.Dirent): boolean {
  return entry.name.toUpperCase() === 'DICOMDIR' && (entry.isFile() || entry.isSymbolicLink());
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function folderKey(stats: fs.Stats): string {
  return `${stats.dev}:${stats.ino}`;
}

function isInsideFolder(candidate: string, folder: string): boolean {
  const relative = path.relative(folder, candidate);
  if (relative === '..' || relative.startsWith(`..${path.sep}`)) return false;
  return !path.isAbsolute(relative);
}

function readLinkTarget(link: string): string {
  try {
    return fs.readlinkSync(link);
  } catch {
    return '(unreadable)';
  }
}
