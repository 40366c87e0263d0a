/**
 * Detection of archives that this process may read but not write: a folder
 * on a read-only file system (a DVD, a read-only mount), one this user has
 * no write permission on, or one on a full file system. LocalArchive opens
 * such an archive read-only, and every write to it fails with
 * ReadOnlyArchiveError.
 */

import fs from 'node:fs';
import { formatSize } from '../format-size';
import { ArchiveError, describeError } from './errors';
import { incomingFolder, indexPath, processesFolder } from './layout';

/** Raised when an operation needs to write to an archive that this process may only read. */
export class ReadOnlyArchiveError extends ArchiveError {
  /** True when the archive is read-only because its file system is full or the user's disk quota is used up. */
  readonly diskFull: boolean;

  constructor(
    readonly root: string,
    /** Reason the archive is read-only, for example "the file system is read-only". */
    readonly reason: string,
    options?: { cause?: unknown; diskFull?: boolean },
  ) {
    const diskFull = options?.diskFull === true;
    super(
      'io',
      diskFull
        ? `The archive folder ${root} is full (${reason}), so nothing can be written to it. ` +
            `Free space on that file system and run the command again (restart loader serve), or choose another archive folder with --archive or LOADER_ARCHIVE.`
        : `The archive folder ${root} is read-only (${reason}), and this command writes to it. ` +
            `Choose a writable archive folder with --archive or LOADER_ARCHIVE, or make ${root} writable for this user.`,
      // Error Comment (0000,0902) of a rejected C-STORE has at most 64 characters.
      { cause: options?.cause, summary: diskFull ? 'Archive disk full; free space and restart the loader server' : undefined },
    );
    this.diskFull = diskFull;
  }
}

/**
 * Returns why `error` means that the file system of `folder` is full
 * (ENOSPC, or SQLITE_FULL from a write of the index) or this user's disk
 * quota is used up (EDQUOT), with the free space, or undefined for any other failure.
 */
export function diskFullReason(error: unknown, folder: string): string | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT' && code !== 'SQLITE_FULL') return undefined;
  return describeFullFileSystem(folder, code === 'EDQUOT' ? 'quota' : 'space');
}

/** Describes the file system of `folder` as out of space or out of this user's disk quota, with the free space. */
export function describeFullFileSystem(folder: string, exhausted: 'space' | 'quota'): string {
  let free = 'free space unknown';
  try {
    const stats = fs.statfsSync(folder);
    free = `${formatSize(stats.bavail * stats.bsize)} free, ${stats.ffree} free inodes`;
  } catch {
    // The reason is still right without the numbers.
  }
  return exhausted === 'space'
    ? `no space left on the file system of ${folder} (${free})`
    : `the disk quota of this user on the file system of ${folder} is used up (${free})`;
}

/**
 * Returns why `error` means that `file` cannot be written (read-only file
 * system or no permission), or undefined for any other failure.
 */
export function writeDenialReason(error: unknown, file: string): string | undefined {
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'EROFS':
      return 'the file system is read-only';
    case 'EACCES':
      return `this user may not write to ${file}`;
    case 'EPERM':
      // For example a file or folder made immutable with chattr +i.
      return `writing to ${file} is not permitted`;
    default:
      return undefined;
  }
}

/**
 * Returns why this process cannot write to the existing archive at `root`,
 * or undefined when it can or when `root` does not exist yet. It checks the
 * root, the index file and the .processes and .incoming folders, because
 * opening an archive for writing writes to each of them.
 */
export function findReadOnlyReason(root: string): string | undefined {
  if (!fs.existsSync(root)) return undefined;
  for (const file of [root, indexPath(root), processesFolder(root), incomingFolder(root)]) {
    try {
      fs.accessSync(file, fs.constants.W_OK);
    } catch (error) {
      const reason = writeDenialReason(error, file);
      if (reason !== undefined) return reason;
      // ENOENT: this part is created when the archive opens for writing.
    }
  }
  return undefined;
}

/** Describes a failed file system write with its error code and, for common codes, the cause in words. */
export function describeWriteError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'EROFS':
      return 'EROFS, the file system is read-only';
    case 'EACCES':
    case 'EPERM':
      return `${code}, permission denied`;
    case 'ENOSPC':
      return 'ENOSPC, no space left on the device';
    case 'ENOTDIR':
      return 'ENOTDIR, a part of the path is a file, not a folder';
    default:
      return describeError(error);
  }
}
