/**
 * The .incoming folder: temporary files of transfers in progress, and the
 * second links of stored files whose index rows wait for their commit.
 *
 * A temporary file is named <SOPInstanceUID>.<pid>.<tag>.<n>.part, or
 * <pid>.<tag>.<n>.part when it was created before its instance was known
 * (temporary-file-pool.ts). pid and tag identify the process that writes it. When an archive opens, it
 * leaves the files of other running processes alone and cleans up after
 * processes that stopped:
 *
 * - A file with one link is a transfer that never finished, or an empty
 *   file that the pool created ahead and never used. It is deleted.
 * - A file with more than one link was placed into the layout, and the
 *   process stopped before its index commit removed this second link (see
 *   placement.ts), so the row may be missing. The file is indexed when the
 *   index lacks its SOP Instance UID, and then the second link is deleted.
 *   When its Series Instance UID is indexed under another study, or its
 *   Study or Series Instance UID under another Patient ID, the commit
 *   would have rejected it, so it moves to .conflicts instead, and is deleted
 *   there again when .conflicts already has a copy with the same data set.
 *
 * NOTE: a process is recognized by its ID only, so the files of a stopped
 * process wait while an unrelated process runs with the same ID. The same
 * holds for the process markers of archive-users.ts.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { LegacyCharacterSet } from '../../dicom/charset';
import { readDicomFileHeaderSync } from '../../dicom/file-reader';
import { Tags } from '../../dicom/tags';
import type { Logger } from '../logger';
import { PROCESS_TAG, isRunningProcess } from './archive-users';
import { IndexConflictError, OtherPatientError, type ArchiveCatalog } from './catalog';
import { describeError } from './errors';
import { readInstanceRecord } from './instance-record';
import { incomingFolder, relativeInstancePath } from './layout';
import { keepConflictOnce, keepConflictSync, otherPatientFields } from './placement';

let temporaryFileCount = 0;

/** The .incoming folder of the last root, with a separator: every C-STORE needs one, so it is joined once. */
let lastRoot: string | undefined;
let lastFolderPrefix = '';

const TEMPORARY_NAME = /^(?:(?<uid>[0-9.]+)\.)?(?<pid>\d+)\.(?<tag>[0-9a-f]{12})\.\d+\.part$/;

/**
 * Returns a fresh path in .incoming for a transfer of this UID, or of an
 * instance not known yet. The process ID, a random tag drawn once per process
 * and a counter keep names of concurrent transfers apart, also across
 * processes sharing the archive.
 */
export function temporaryPath(root: string, sopInstanceUid?: string): string {
  temporaryFileCount += 1;
  if (root !== lastRoot) {
    lastRoot = root;
    lastFolderPrefix = incomingFolder(root) + path.sep;
  }
  const uidPrefix = sopInstanceUid === undefined ? '' : `${sopInstanceUid}.`;
  return `${lastFolderPrefix}${uidPrefix}${process.pid}.${PROCESS_TAG}.${temporaryFileCount}.part`;
}

export interface IncomingCleanup {
  /** Unfinished transfers and other leftovers deleted. */
  removed: number;
  /** Stored files whose missing index row was added. */
  indexed: number;
  /** Stored files without an index row that conflicted with the index and moved to .conflicts. */
  conflicts: number;
  /** Files of running processes left in place. */
  inUse: number;
  /** Empty files that a temporary file pool created ahead and never used, deleted. */
  spares: number;
}

/** Cleans up .incoming after stopped processes; see the file comment. */
export function cleanUpIncoming(root: string, catalog: ArchiveCatalog, logger: Logger, legacyCharacterSet: LegacyCharacterSet): IncomingCleanup {
  const folder = incomingFolder(root);
  const cleanup: IncomingCleanup = { removed: 0, indexed: 0, conflicts: 0, inUse: 0, spares: 0 };
  for (const name of fs.readdirSync(folder)) {
    if (isOwnedByRunningProcess(name)) {
      cleanup.inUse++;
      continue;
    }

    const file = path.join(folder, name);
    if (isUnusedSpare(file)) {
      if (removeLeftover(file, logger)) cleanup.spares++;
      continue;
    }
    try {
      const outcome = indexSecondLink(root, file, catalog, logger, legacyCharacterSet);
      if (outcome === 'indexed') cleanup.indexed++;
      if (outcome === 'conflict') cleanup.conflicts++;
    } catch (error) {
      logger.error('Failed to index a stored file whose index commit was interrupted; run `loader reindex` to index it', {
        path: file,
        error: describeError(error),
      });
    }

    if (removeLeftover(file, logger)) cleanup.removed++;
  }

  if (cleanup.indexed > 0) {
    logger.warn('Indexed stored files whose index commit was interrupted by a stopped process', { folder, count: cleanup.indexed });
  }
  const leftovers = cleanup.removed - cleanup.indexed - cleanup.conflicts;
  if (leftovers > 0) {
    logger.warn('Removed temporary files left by an interrupted transfer', { folder, count: leftovers });
  }
  return cleanup;
}

/** Deletes a file or folder of .incoming; returns false after logging a failure. */
function removeLeftover(file: string, logger: Logger): boolean {
  try {
    fs.rmSync(file, { force: true, recursive: true });
    return true;
  } catch (error) {
    logger.error('Failed to remove a leftover temporary file', { path: file, error: describeError(error) });
    return false;
  }
}

/** True for an empty temporary file created ahead of a transfer (temporary-file-pool.ts), whose name has no UID. */
export function isUnusedSpare(file: string): boolean {
  const match = TEMPORARY_NAME.exec(path.basename(file));
  if (!match || match.groups?.uid !== undefined) return false;
  try {
    const stat = fs.lstatSync(file);
    return stat.isFile() && stat.size === 0;
  } catch {
    return false;
  }
}

/** Returns true when `name` is a temporary file of a process that still runs. */
function isOwnedByRunningProcess(name: string): boolean {
  const owner = TEMPORARY_NAME.exec(name)?.groups;
  return owner !== undefined && isRunningProcess(Number(owner.pid), owner.tag);
}

/**
 * Indexes the layout file that `file` is a second link of, when the index
 * lacks its SOP Instance UID, or moves it to .conflicts when the index
 * rejects it. Returns what happened, or undefined when nothing needed doing.
 */
function indexSecondLink(
  root: string,
  file: string,
  catalog: ArchiveCatalog,
  logger: Logger,
  legacyCharacterSet: LegacyCharacterSet,
): 'indexed' | 'conflict' | undefined {
  const stat = fs.lstatSync(file);
  if (!stat.isFile() || stat.nlink < 2) return undefined;

  const header = readDicomFileHeaderSync(file);
  const record = readInstanceRecord(header, legacyCharacterSet);
  const storedPath = path.join(
    root,
    relativeInstancePath({
      studyInstanceUid: record.study.studyInstanceUid,
      seriesInstanceUid: record.series.seriesInstanceUid,
      sopInstanceUid: record.instance.sopInstanceUid,
    }),
  );
  const stored = statOrUndefined(storedPath);
  if (!stored || stored.ino !== stat.ino || stored.dev !== stat.dev) return undefined;
  const sopInstanceUid = record.instance.sopInstanceUid;
  if (catalog.findInstance(sopInstanceUid)) return undefined;

  const sourceAeTitle = header.meta.getString(Tags.SourceApplicationEntityTitle)?.trim() ?? '';
  try {
    catalog.addInstance(
      record,
      { path: storedPath, inPlace: false, size: stat.size, receivedAt: stat.mtime.toISOString(), sourceAeTitle },
      sourceAeTitle ? `AE ${sourceAeTitle}` : storedPath,
      { rejectConflicts: true },
    );
  } catch (error) {
    if (!(error instanceof IndexConflictError)) throw error;
    const conflictPath = keepConflictSync(root, storedPath, sopInstanceUid);
    logger.warn('Kept aside a stored instance whose interrupted index commit conflicts with the index', {
      sopInstanceUid,
      sourceAeTitle,
      keptAt: conflictPath,
      reason: error.message,
      ...(error instanceof OtherPatientError ? otherPatientFields(error.conflict) : {}),
    });
    void removeRepeatedConflict(root, conflictPath, sopInstanceUid, sourceAeTitle, logger);
    return 'conflict';
  }
  logger.info('Indexed a stored instance after an interrupted index commit', { sopInstanceUid, sourceAeTitle, path: storedPath });
  return 'indexed';
}

/**
 * Deletes `conflictPath`, a copy just kept aside, when .conflicts already has
 * a copy of `sopInstanceUid` with the same data set (keepConflictOnce), as
 * receipt and deferred commits do. It runs after cleanUpIncoming has
 * returned, because the comparison is asynchronous and opening an archive is
 * not. A process that exits before the comparison ends keeps both copies.
 */
async function removeRepeatedConflict(root: string, conflictPath: string, sopInstanceUid: string, sourceAeTitle: string, logger: Logger): Promise<void> {
  try {
    const earlier = await keepConflictOnce(root, conflictPath, sopInstanceUid);
    if (earlier === undefined) return;
    logger.warn('Stored instance of an interrupted index commit equals a copy kept aside before; removed the repeated copy', {
      sopInstanceUid,
      sourceAeTitle,
      removedPath: conflictPath,
      conflictPath: earlier.path,
    });
  } catch (error) {
    logger.warn('Failed to compare a copy kept aside with the earlier copies of its SOP Instance UID; both stay in .conflicts', {
      sopInstanceUid,
      conflictPath,
      error: describeError(error),
    });
  }
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}
