/**
 * Files in the folder of a DICOMDIR that none of its directory records
 * reference. A patient CD holds a viewer program, AUTORUN.INF and similar
 * files beside the DICOMDIR, so a scan of DICOM media reads only the
 * referenced files (PS3.10 section 8). Some DICOMDIR writers leave files out,
 * so the rest are checked for the DICM prefix and listed when they have it.
 * A subfolder with a DICOMDIR of its own, such as a second disc copied into
 * the first, is DICOM media too: it is returned for the scan to walk as media.
 */

import fs from 'node:fs';
import path from 'node:path';
import { FileWalker, type FileWalkerOptions, type WalkProblem } from './walk';

/** The files in a DICOMDIR's folder tree that no directory record references. The scan reads none of them. */
export interface UnreferencedFiles {
  /** The DICOMDIR, by real path. */
  dicomdir: string;
  /** Number of unreferenced files, the DICOMDIR excluded. */
  count: number;
  /** The unreferenced files that start with a DICM prefix (PS3.10 section 7.1), so they are most likely DICOM files. */
  dicomLike: string[];
}

/** The unreferenced files, and the FIFOs, sockets and device files that the walk met and did not open. */
export interface UnreferencedWalk {
  files: UnreferencedFiles;
  specialFiles: WalkProblem[];
  /** Subfolders that contain a DICOMDIR of their own. Their files are not in `files`, because that DICOMDIR covers them. */
  mediaFolders: string[];
}

/** Bytes read from each file: the 128-byte preamble and 'DICM'. */
const PREFIX_LENGTH = 132;

/**
 * Walks `entries` (files and folders beside `dicomdir`) and returns the files
 * that are not in `referenced`, compared by real path, because the walk may
 * have reached the folder through a symbolic link. Files that cannot be read
 * are counted and not listed as DICOM, and folders that cannot be listed are
 * left out, because the scan never reads them. A subfolder that contains a
 * DICOMDIR is not walked further but returned in `mediaFolders`.
 */
export function listUnreferencedFiles(dicomdir: string, entries: readonly string[], referenced: readonly string[], options: FileWalkerOptions): UnreferencedWalk {
  const result: UnreferencedFiles = { dicomdir: realPathOf(dicomdir), count: 0, dicomLike: [] };
  const mediaFolders: string[] = [];
  const referencedRealPaths = new Set(referenced.map(realPathOf));
  referencedRealPaths.add(result.dicomdir);
  const walker = new FileWalker([...entries], { ...options, holdBackMediaFolders: true });
  for (let file = walker.next(); file !== undefined; file = walker.next()) {
    if (walker.holdsBackEntriesBeside(file)) {
      mediaFolders.push(path.dirname(file));
      continue;
    }
    if (referencedRealPaths.has(realPathOf(file))) continue;
    result.count++;
    if (startsWithDicmPrefix(file)) result.dicomLike.push(file);
  }
  return { files: result, specialFiles: walker.specialFiles, mediaFolders };
}

/** Returns the real path of `file`, or `file` itself when it cannot be resolved. */
function realPathOf(file: string): string {
  try {
    return fs.realpathSync.native(file);
  } catch {
    return file;
  }
}

/** Returns true when `file` has 'DICM' at byte offset 128 or at its start, as the header reader accepts. */
function startsWithDicmPrefix(file: string): boolean {
  let fd: number;
  try {
    // O_NONBLOCK, because a file replaced by a FIFO after the walk would otherwise block the open.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const chunk = Buffer.alloc(PREFIX_LENGTH);
    const length = fs.readSync(fd, chunk, 0, PREFIX_LENGTH, 0);
    if (length >= PREFIX_LENGTH && chunk.toString('latin1', 128, 132) === 'DICM') return true;
    return length >= 4 && chunk.toString('latin1', 0, 4) === 'DICM';
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}
