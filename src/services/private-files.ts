/**
 * Modes of the files that the loader keeps outside the archive's DICOM files
 * and that contain the node registry, job secrets or patient data: the
 * settings file, jobs.sqlite and the archive index. They are created for the
 * owner only, whatever the umask, and an existing one that other users may
 * change (or read, for secrets) is tightened when it is opened.
 */
import fs from 'node:fs';

import type { Logger } from './logger';

/** Read and write for the owner only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Read, write and search for the owner only. */
export const PRIVATE_FOLDER_MODE = 0o700;

/** Group and other write bits: other users may change the file. */
export const OTHERS_WRITE = 0o022;
/** Every group and other bit: other users may read or change the file. */
export const OTHERS_ANY = 0o077;

/** Formats a permission mode as four octal digits, such as 0644. */
export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** Creates `folder` and its missing parents with mode 0700; an existing folder keeps its mode. */
export function makePrivateFolder(folder: string): void {
  fs.mkdirSync(folder, { recursive: true, mode: PRIVATE_FOLDER_MODE });
}

/**
 * Creates `file` empty with mode 0600 when it does not exist. SQLite creates a
 * missing database with 0644 less the umask and gives its -wal and -shm files
 * the database's mode, so creating the empty file first makes all three 0600.
 */
export function createPrivateFile(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, 'wx', PRIVATE_FILE_MODE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/**
 * Removes the group and other bits of an existing regular file when it has any
 * of `trigger` (OTHERS_WRITE or OTHERS_ANY), and logs one warning that names the
 * file and its old mode. A missing file is left alone. A file that this user
 * cannot change (another owner) gets a warning that says what to run, and the
 * caller goes on, so the loader still starts.
 */
export function tightenFileMode(file: string, trigger: number, log: Logger): void {
  let stats: fs.Stats;
  try {
    stats = fs.statSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stats.isFile() || (stats.mode & trigger) === 0) return;

  const oldMode = formatMode(stats.mode);
  const newMode = stats.mode & 0o7700;
  const exposure = describeExposure(stats.mode);
  try {
    fs.chmodSync(file, newMode);
  } catch (error) {
    log.warn(`${file} has mode ${oldMode}, so other users may ${exposure} it, and changing its mode failed; run "chmod go-rwx ${file}" as its owner`, {
      error: (error as Error).message,
    });
    return;
  }
  log.warn(`${file} had mode ${oldMode}, so other users could ${exposure} it; changed its mode to ${formatMode(newMode)}`);
}

/** Returns what the group and other bits of `mode` let other users do: "read", "change" or "read and change". */
function describeExposure(mode: number): string {
  const read = (mode & 0o044) !== 0;
  const write = (mode & 0o022) !== 0;
  if (read && write) return 'read and change';
  return write ? 'change' : 'read';
}
