/**
 * Descriptions of the file system and index failures that stop a store: a
 * short reason for Error Comment (0000,0902) and a full text for the log with
 * the path, the cause and what to do. Node's messages ("EFBIG: file too
 * large, write", "disk I/O error") name neither the limit nor the remedy.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatSize } from '../format-size';

/** A failure that the archive can explain. */
export interface StorageFailure {
  /** Reason first, at most 64 characters, because Error Comment (0000,0902) is LO (PS3.5 section 6.2). */
  comment: string;
  /** The cause with the path and what to do, for the log. */
  detail: string;
}

/**
 * Free bytes below which a failed index write is put down to a full disk.
 * SQLite writes pages of 4 KiB and grows the write-ahead log by a few pages per commit.
 */
const LOW_FREE_BYTES = 1024 * 1024;

/**
 * Distance from the process file size limit within which a failed index
 * write is put down to that limit. A write past the limit stops at it, so the
 * failing file ends within one write of it: a SQLite frame is a 4 KiB page
 * plus a 24-byte header, and a commit writes its frames one by one.
 */
const LIMIT_MARGIN_BYTES = 64 * 1024;

/**
 * Describes a file system error of a store (EFBIG, ENOSPC, EDQUOT, EACCES,
 * EPERM, EROFS) or a full disk under the index (SQLITE_FULL), or returns
 * undefined for other errors. `file` is the file being written, used when
 * the error names no path (a write to a descriptor).
 */
export function describeStorageFailure(error: unknown, file?: string): StorageFailure | undefined {
  const errno = error as NodeJS.ErrnoException | null;
  const code = errno?.code;
  // For link and rename, `dest` is the new name, which is where the write happens.
  const target = (errno as { dest?: string } | null)?.dest ?? errno?.path ?? file;
  switch (code) {
    case 'EFBIG':
      return {
        comment: 'File size limit reached (EFBIG); check ulimit -f of the loader',
        detail: `File size limit reached (EFBIG) writing ${target ?? 'a file'}. ${describeFileSizeLimit()}`,
      };
    case 'SQLITE_FULL':
      // better-sqlite3's message "database or disk is full" names neither the file nor the remedy.
      return {
        comment: 'Disk full (SQLITE_FULL) in the archive; free space, then retry',
        detail: `Disk full (SQLITE_FULL) writing the archive index: ${describeFreeSpace(target)}`,
      };
    case 'ENOSPC':
      return {
        comment: 'Disk full (ENOSPC) in the archive; free space, then send again',
        detail: `Disk full (ENOSPC) writing ${target ?? 'a file'}: ${describeFreeSpace(target)}`,
      };
    case 'EDQUOT':
      return {
        comment: 'Disk quota exceeded (EDQUOT) in the archive; free space',
        detail:
          `Disk quota exceeded (EDQUOT) writing ${target ?? 'a file'}: the disk quota of user ${describeProcessUser()} ` +
          `on that file system is used up. Free space in that user's files or raise the quota (quota, setquota), then send again.`,
      };
    case 'EACCES':
    case 'EPERM':
      return {
        comment: `Permission denied (${code}) in the archive; see the server log`,
        detail: `Permission denied (${code}) writing ${target ?? 'a file'}: ${describeDeniedFolder(target, code)}`,
      };
    case 'EROFS':
      return {
        comment: 'Read-only file system (EROFS) in the archive; see server log',
        detail:
          `Read-only file system (EROFS) writing ${target ?? 'a file'}: the file system of the archive is mounted read-only, ` +
          `which Linux also does after disk errors. Check the kernel log (journalctl -k), remount it read-write ` +
          `or choose another archive folder with --archive.`,
      };
    default:
      return undefined;
  }
}

/**
 * Describes a failed write of the SQLite index `indexFile`. SQLite reports
 * EFBIG as SQLITE_IOERR_WRITE ("disk I/O error"), so the process file size
 * limit and the free space are checked against the index and its
 * write-ahead log. Returns undefined for errors that are not write failures,
 * such as a locked index.
 */
export function describeIndexWriteFailure(error: unknown, indexFile: string): StorageFailure | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (code === 'SQLITE_FULL') {
    return {
      comment: 'Disk full (SQLITE_FULL) for the archive index; free space',
      detail: `Disk full (SQLITE_FULL) writing the archive index ${indexFile}: ${describeFreeSpace(indexFile)}`,
    };
  }
  if (!code.startsWith('SQLITE_IOERR')) return undefined;

  const limit = readFileSizeLimit();
  const largest = Math.max(fileSize(indexFile), fileSize(`${indexFile}-wal`));
  if (limit !== undefined && largest + LIMIT_MARGIN_BYTES >= limit) {
    return {
      // Another comment than a received file's, so that the server's repeat counter does not fold index failures into file failures.
      comment: 'Index file size limit reached (EFBIG); check ulimit -f',
      detail:
        `File size limit reached (EFBIG) writing the archive index ${indexFile} or its write-ahead log ${indexFile}-wal ` +
        `(${code}, ${describeError(error)}): the larger of them has ${formatSize(largest)}. ${describeFileSizeLimit()}`,
    };
  }
  const free = freeBytes(indexFile);
  if (free !== undefined && free < LOW_FREE_BYTES) {
    return {
      comment: 'Disk full for the archive index; free space, then send again',
      detail: `Disk full writing the archive index ${indexFile} (${code}, ${describeError(error)}): ${describeFreeSpace(indexFile)}`,
    };
  }
  return {
    comment: 'Archive index write failed; see the server log',
    detail:
      `Failed to write the archive index ${indexFile} (${code}, ${describeError(error)}). ` +
      `Check the kernel log for disk errors (journalctl -k), the free space of ${path.dirname(indexFile)} ` +
      `and the file size limit of the loader process (ulimit -f).`,
  };
}

/**
 * Returns true when a failed write of the SQLite index `indexFile` means a
 * full file system: SQLITE_FULL, or an I/O error (as SQLite reports a failed
 * write of its write-ahead log or shared memory file) while less than
 * LOW_FREE_BYTES are free and no file size limit explains it.
 */
export function isIndexDiskFull(error: unknown, indexFile: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL') return true;
  const failure = typeof code === 'string' && code.startsWith('SQLITE_IOERR') ? describeIndexWriteFailure(error, indexFile) : undefined;
  return failure?.comment.startsWith('Disk full') === true;
}

/** Returns the soft RLIMIT_FSIZE of this process in bytes from /proc/self/limits, or undefined when unlimited or unknown. */
export function readFileSizeLimit(): number | undefined {
  let limits: string;
  try {
    limits = fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const match = /^Max file size\s+(\S+)/m.exec(limits);
  if (!match || match[1] === 'unlimited') return undefined;
  const bytes = Number(match[1]);
  return Number.isFinite(bytes) ? bytes : undefined;
}

function describeFileSizeLimit(): string {
  const limit = readFileSizeLimit();
  if (limit === undefined) {
    return (
      'The loader process has no file size limit (ulimit -f is unlimited), so the file is larger than the file system allows. ' +
      'Move the archive to a file system that allows larger files.'
    );
  }
  // Bash and the ulimit command count 1024-byte blocks.
  return (
    `The loader process may write files of at most ${formatSize(limit)} (ulimit -f ${Math.floor(limit / 1024)}, RLIMIT_FSIZE). ` +
    `Raise the limit where the loader is started (ulimit -f unlimited in its shell, LimitFSIZE=infinity in its systemd unit), ` +
    `restart it and send again.`
  );
}

function describeFreeSpace(target: string | undefined): string {
  const folder = target === undefined ? undefined : existingFolderOf(target);
  const free = folder === undefined ? undefined : freeBytes(folder);
  const where = folder === undefined ? 'the archive' : folder;
  const freeText = free === undefined ? '' : ` (${formatSize(free)} free)`;
  return (
    `no space is left on the file system of ${where}${freeText}, or it has no free inodes (df -i). ` +
    `Free space there or move the archive to a larger disk, then send again.`
  );
}

/**
 * Names the folder that denies the write to `target` with its mode and owner,
 * and the user this process runs as. It checks the parent folder for write
 * and search permission and the folders above it for search permission.
 */
function describeDeniedFolder(target: string | undefined, code: string): string {
  const user = describeProcessUser();
  if (target === undefined) return `the loader runs as ${user} and may not write there. Run it as the archive's owner.`;
  const parent = path.dirname(target);
  let denied = parent;
  try {
    fs.accessSync(parent, fs.constants.W_OK | fs.constants.X_OK);
    for (let folder = path.dirname(parent); ; folder = path.dirname(folder)) {
      try {
        fs.accessSync(folder, fs.constants.X_OK);
      } catch {
        denied = folder;
        break;
      }
      if (path.dirname(folder) === folder) break;
    }
  } catch {
    // The parent folder itself denies the write.
  }
  const owner = describeOwner(denied);
  const immutable = code === 'EPERM' ? ' EPERM with write permission means an immutable or append-only attribute (lsattr -d, chattr -i).' : '';
  return (
    `the loader runs as ${user}, and the folder ${denied}${owner} does not let it write there.${immutable} ` +
    `Give the folder back its owner and mode (chown, chmod 700), or run the loader as the archive's owner.`
  );
}

function describeOwner(folder: string): string {
  try {
    const stat = fs.statSync(folder);
    return ` (mode ${(stat.mode & 0o7777).toString(8).padStart(3, '0')}, owner uid ${stat.uid}, group gid ${stat.gid})`;
  } catch {
    return '';
  }
}

function describeProcessUser(): string {
  try {
    const info = os.userInfo();
    return `${info.username} (uid ${info.uid})`;
  } catch {
    return `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

/** Returns `target` when it is a folder, else its nearest existing parent folder. */
function existingFolderOf(target: string): string | undefined {
  for (let folder = target; ; folder = path.dirname(folder)) {
    try {
      if (fs.statSync(folder).isDirectory()) return folder;
    } catch {
      // Missing: try the parent.
    }
    if (path.dirname(folder) === folder) return undefined;
  }
}

function freeBytes(target: string): number | undefined {
  const folder = existingFolderOf(target);
  if (folder === undefined) return undefined;
  try {
    const stats = fs.statfsSync(folder);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
