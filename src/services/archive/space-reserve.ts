/**
 * The space reserve: a file of SPACE_RESERVE_BYTES that the archive keeps in
 * .processes, so that `loader delete` works on a full file system. Deleting
 * studies is how a technician frees archive space, but a deletion needs some
 * space before it frees any: this process's marker (archive-users.ts), the
 * manifest of its .trash batch (deletion.ts) and the SQLite write-ahead log
 * of the index transaction. No order of these steps needs no space and still
 * lets the next open finish a deletion that a crash interrupted, so the
 * archive keeps this space aside instead.
 *
 * The archive creates the reserve when it opens for writing and the file
 * system has room for it and SPACE_RESERVE_MARGIN_BYTES more. A deletion removes it first when
 * less than SPACE_RESERVE_BYTES are free, and the archive creates it again
 * afterwards where there is room. The reserve is an independent file, so a
 * crash at any point leaves the index and the files as consistent as
 * deletion.ts describes, and the next open creates the reserve again.
 * Scan and reindex skip .processes, and the process markers' pattern does
 * not match the reserve's name, so it is never indexed nor taken for a marker.
 *
 * NOTE: the size is an estimate. A deletion of about 10,000 instances
 * writes a manifest of about 3 MB, and its index transaction a write-ahead
 * log of a few MB more, so a larger deletion on a full file system may
 * still fail with "disk full". Deleting fewer studies at a time then works.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';
import { describeError } from './errors';
import { FILE_MODE, processesFolder } from './layout';

export const SPACE_RESERVE_BYTES = 8 * 1024 * 1024;
/** Free bytes that creating the reserve leaves, so that it never takes the last space that a running store needs. */
const SPACE_RESERVE_MARGIN_BYTES = 1024 * 1024;

const SPACE_RESERVE_FILE = 'space-reserve';
const CHUNK_BYTES = 64 * 1024;

export function spaceReservePath(root: string): string {
  return path.join(processesFolder(root), SPACE_RESERVE_FILE);
}

/** Returns the bytes that this user may still write on the file system of `root`, or undefined when unknown. */
export function freeBytesOf(root: string): number | undefined {
  try {
    const stats = fs.statfsSync(root);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

/**
 * Creates the space reserve, or completes one that a crash left short, when
 * the file system keeps SPACE_RESERVE_MARGIN_BYTES free beside it. Returns true when the reserve is
 * complete. Failures are logged, because the archive works without it.
 */
export function ensureSpaceReserve(root: string, logger: Logger): boolean {
  const file = spaceReservePath(root);
  const size = fileSize(file);
  if (size >= SPACE_RESERVE_BYTES) return true;
  const free = freeBytesOf(root);
  if (free === undefined || free - (SPACE_RESERVE_BYTES - size) < SPACE_RESERVE_MARGIN_BYTES) return false;

  let fd: number | undefined;
  try {
    // Random bytes, because a compressing file system (Btrfs, ZFS) would store zeros in almost no space.
    // NOTE: the chunk repeats, so a file system with block deduplication (ZFS dedup=on) stores it only once.
    const chunk = randomBytes(CHUNK_BYTES);
    // No O_TRUNC and writes at fixed offsets, so two processes that complete it at once write the same range.
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, FILE_MODE);
    for (let offset = size; offset < SPACE_RESERVE_BYTES; offset += CHUNK_BYTES) {
      fs.writeSync(fd, chunk, 0, Math.min(CHUNK_BYTES, SPACE_RESERVE_BYTES - offset), offset);
    }
    logger.debug('Created the space reserve of the archive, which lets loader delete run on a full disk', { path: file, bytes: SPACE_RESERVE_BYTES });
    return true;
  } catch (error) {
    // A short reserve would only take space that the next open may need, so it goes.
    fs.rmSync(file, { force: true });
    logger.debug('Failed to create the space reserve of the archive', { path: file, error: describeError(error) });
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Removes the space reserve and returns true when there was one. */
export function releaseSpaceReserve(root: string, logger: Logger): boolean {
  const file = spaceReservePath(root);
  const size = fileSize(file);
  try {
    fs.rmSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    logger.warn('Failed to remove the space reserve of the archive', { path: file, error: describeError(error) });
    return false;
  }
  logger.info('Removed the space reserve of the archive, because its disk is full', { path: file, bytes: size, freeBytes: freeBytesOf(root) });
  return true;
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
