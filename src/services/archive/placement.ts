/**
 * Places a complete temporary file into the archive layout, deciding between
 * stored, duplicate and conflict:
 *
 * - no file with the SOP Instance UID yet: link it into place (a hard link, so
 *   an existing file is never replaced), then index it while the folder fsync
 *   of 'full' durability runs. The temporary name stays as a second link
 *   until the row is committed, so the next archive open indexes a placed
 *   file whose commit a crash prevented (incoming.ts). With `deferIndex` the
 *   row is queued (IndexWriteQueue.defer), and the store returns before the
 *   commit;
 * - the stored file has the same data set, in the same bytes or re-encoded in
 *   another uncompressed transfer syntax (same-content.ts): delete the
 *   temporary file;
 * - the stored file differs: move the temporary file to .conflicts and keep the
 *   stored file, unless .conflicts already has a copy with the same data set
 *   for this SOP Instance UID. Then delete the temporary file, so that a
 *   sender that repeats the instance does not fill the disk, and still
 *   return 'conflict' with the path of that copy;
 * - the Study Instance UID or Series Instance UID is indexed under another
 *   Patient ID, or the differing stored file of the SOP Instance UID is of
 *   another Patient ID: keep the file aside as above, without linking it into
 *   the study's folder, and return 'conflict' with `otherPatient` set.
 *
 * The caller holds the per-UID lock, has flushed the temporary file's data
 * when durability is 'full', and deletes the temporary file on error.
 */

import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { readDicomFileHeader, type DicomFileHeader } from '../../dicom/file-reader';
import { Tags } from '../../dicom/tags';
import type { Logger } from '../logger';
import { IndexConflictError, OtherPatientError, otherPatientConflict, type ArchiveCatalog, type OtherPatientConflict, type StoredFile } from './catalog';
import type { ArchiveDurability } from './durability';
import { ArchiveError, describeError } from './errors';
import {
  exists,
  fsyncDirectory,
  linkNoReplaceSync,
  moveNoReplace,
  removeFileQuietly,
  removeFileQuietlySync,
  type LinkOutcome,
} from './file-ops';
import type { IndexWriteQueue } from './index-writer';
import type { InstanceRecord } from './instance-record';
import { FOLDER_MODE, conflictFileName, conflictsFolder, indexPath, relativeInstancePath } from './layout';
import { compareContent, type ContentComparison } from './same-content';
import { describeIndexWriteFailure } from './storage-errors';

export type StoreOutcomeKind = 'stored' | 'duplicate' | 'conflict';

export interface StoreOutcome {
  outcome: StoreOutcomeKind;
  /**
   * Absolute path of the instance: the archive file ('stored'), the file
   * already stored ('duplicate'), or the file kept aside in .conflicts
   * ('conflict', also a copy kept aside by an earlier store). For files
   * indexed in place it is the file's own path.
   */
  path: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  /** Size in bytes of the file at `path`. */
  size: number;
  /**
   * Set with 'conflict' when the instance was kept aside because its Study,
   * Series or SOP Instance UID is stored under another Patient ID. The C-STORE
   * SCPs send a failure status for such an instance.
   */
  otherPatient?: OtherPatientConflict;
}

export interface PlacementContext {
  root: string;
  catalog: ArchiveCatalog;
  logger: Logger;
  durability: ArchiveDurability;
  /** Queue that commits index rows of placed files in groups. */
  indexQueue: IndexWriteQueue;
  /**
   * Series folders this archive created or found, so a store into a known
   * folder skips mkdir. A folder removed behind the archive's back is created
   * again when the link into it fails with ENOENT.
   */
  knownFolders: Set<string>;
  /**
   * True to queue the index row of a newly stored file instead of awaiting
   * its commit. Only for 'process-crash': in 'full' the store must not
   * return before its row is on disk.
   */
  deferIndex: boolean;
}

/** The file's origin, recorded in the index and in logs. */
export interface FileSource {
  /** Calling AE title for C-STORE, '' for files from disk. */
  sourceAeTitle: string;
  /** AE title or original path, for logs and study conflicts. */
  description: string;
  /** The description that log lines show, when it differs from `description` (a path that repeats a patient's name). */
  logDescription?: string;
}

/** An already indexed or stored file with the same SOP Instance UID. */
interface ExistingFile {
  path: string;
  indexed: boolean;
  /** The index row lists the file in place, outside the archive folder. */
  inPlace?: boolean;
}

/**
 * Places `tempPath` (whose header is `header`) into the layout; see the file
 * comment. `size` is the temporary file's size when the caller knows it.
 */
/**
 * Layout paths whose file this process has linked and whose index row it is
 * committing now. Another store of the same SOP Instance UID with other content
 * that arrives in that time finds the file but no row, and must treat it as the
 * indexed copy rather than as a stray file to move aside.
 */
const pathsBeingIndexed = new Set<string>();

export async function placeTemporaryFile(
  context: PlacementContext,
  tempPath: string,
  header: DicomFileHeader,
  record: InstanceRecord,
  source: FileSource,
  size?: number,
): Promise<StoreOutcome> {
  const { root, logger } = context;
  const uids = uidsOf(record);
  const finalPath = path.join(root, relativeInstancePath(uids));
  const fileSize = size ?? (await fsp.stat(tempPath)).size;

  // A file at the layout path that the index lacks is found by the link's EEXIST, not by a check first.
  let existing = await findIndexedFile(context, uids.sopInstanceUid);
  if (!existing) {
    // Checked before the link, so the study's folder never shows the other patient's file. The index
    // transaction checks again, for rows that another process or association committed meanwhile.
    const otherPatient = context.catalog.findOtherPatient(record) ?? context.indexQueue.findQueuedOtherPatient(record);
    if (otherPatient) return keepOtherPatient(context, tempPath, header, otherPatient, uids, source, fileSize);
    const linked = await linkIntoLayout(context, tempPath, finalPath);
    // While deferred commits fail, the row is committed before the store returns, as in 'full' durability.
    if (linked === 'linked' && context.deferIndex && !context.indexQueue.commitsFailing) {
      const file = fileInfo(finalPath, false, fileSize, source);
      context.indexQueue.defer({ record, file, source: source.description, rejectConflicts: true }, tempPath);
      logger.debug('Stored instance; index row queued', { sopInstanceUid: uids.sopInstanceUid, sourceAeTitle: source.sourceAeTitle, path: finalPath, size: fileSize });
      return { outcome: 'stored', path: finalPath, size: fileSize, ...uids };
    }
    if (linked !== 'exists') {
      // In 'full' durability the folder flush and the index commit (which flushes the write-ahead log) run
      // at once. A power loss between them leaves a row without its file, which the next store of the UID
      // replaces, or a file without its row, which the next store of the UID indexes as a duplicate.
      const folderFlushed = context.durability === 'full' ? fsyncDirectory(path.dirname(finalPath)) : undefined;
      folderFlushed?.catch(() => undefined);
      if (linked === 'linked') pathsBeingIndexed.add(finalPath);
      try {
        await indexPlacedFile(context, record, fileInfo(finalPath, false, fileSize, source), source);
      } catch (error) {
        if (!(error instanceof IndexConflictError)) throw error;
        // Another process indexed the UID with another file after the lookup above, or the series belongs to another study.
        if (linked === 'linked') removeFileQuietlySync(finalPath);
        const placed = linked === 'linked' ? tempPath : finalPath;
        if (error instanceof OtherPatientError) return await keepOtherPatient(context, placed, header, error.conflict, uids, source, fileSize);
        if (error.storedPath !== undefined) {
          const raced = await compareContent(error.storedPath, placed, header);
          if (raced.kind !== 'different') {
            await removeFileQuietly(placed);
            logDuplicate(context, uids, source, error.storedPath, raced, header);
            return { outcome: 'duplicate', path: error.storedPath, size: (await fsp.stat(error.storedPath)).size, ...uids };
          }
          return await keepDifferentContent(context, placed, header, { path: error.storedPath, indexed: true }, record, source, fileSize);
        }
        return await keepIndexConflict(context, placed, header, error, uids, source, fileSize);
      } finally {
        pathsBeingIndexed.delete(finalPath);
      }
      await folderFlushed;
      if (linked === 'linked') removeFileQuietlySync(tempPath);
      logger.debug('Stored instance', { sopInstanceUid: uids.sopInstanceUid, sourceAeTitle: source.sourceAeTitle, path: finalPath, size: fileSize });
      return { outcome: 'stored', path: finalPath, size: fileSize, ...uids };
    }
    // A file from an interrupted earlier store, or another writer placed the file after the index lookup.
    existing = { path: finalPath, indexed: false };
    // A symbolic link, FIFO or folder at the layout path is no stored copy, even when a link leads to the
    // same data set: the index would list the link, and removing its target would lose the instance.
    const occupant = await layoutOccupantType(finalPath);
    // Another writer removed the occupant since the link failed, so placement starts again.
    if (occupant === 'none') return placeTemporaryFile(context, tempPath, header, record, source, fileSize);
    if (occupant === 'other') return replaceLayoutOccupant(context, tempPath, header, record, source, fileSize, finalPath);
  }

  const comparison = await compareContent(existing.path, tempPath, header);
  if (comparison.kind !== 'different') {
    if (existing.inPlace) return adoptInPlaceFile(context, tempPath, finalPath, record, source, fileSize, existing.path);
    await removeFileQuietly(tempPath);
    const existingSize = (await fsp.stat(existing.path)).size;
    if (!existing.indexed) {
      // A file from an interrupted earlier store: it is complete (it was placed by link), so index it.
      await context.indexQueue.add({ record, file: fileInfo(existing.path, false, existingSize, source), source: source.description });
    }
    logDuplicate(context, uids, source, existing.path, comparison, header);
    return { outcome: 'duplicate', path: existing.path, size: existingSize, ...uids };
  }

  if (!existing.indexed && !pathsBeingIndexed.has(existing.path)) return replaceLayoutOccupant(context, tempPath, header, record, source, fileSize, finalPath);
  return keepDifferentContent(context, tempPath, header, existing, record, source, fileSize);
}

/**
 * Stores the received instance at its layout path `finalPath`, which contains a
 * file with another data set that the index does not list under the received
 * SOP Instance UID: a file copied there by hand, the remains of an earlier
 * store, or a file of other UIDs that an older `loader reindex`
 * indexed at this path. A symbolic link (whatever it leads to), a FIFO or a
 * folder at `finalPath` is handled the same way, so the stored instance is
 * always a regular file of the archive. Keeping the received copy aside would answer Success
 * for an instance that no query finds, and a sender that deletes its copy
 * after Success would leave the archive without it. Of the two ways that lose
 * nothing, the choice depends on the index:
 * - no row lists the occupant: it moves to .conflicts with a warning, and the
 *   received instance is stored as usual;
 * - a row lists the occupant under another SOP Instance UID: moving it would
 *   leave that row without its file, so it stays, and the sender receives a
 *   failure status and keeps its copy. `loader reindex` moves the occupant to
 *   the layout path of its own UIDs, and the sender can then send again.
 */
async function replaceLayoutOccupant(
  context: PlacementContext,
  tempPath: string,
  header: DicomFileHeader,
  record: InstanceRecord,
  source: FileSource,
  fileSize: number,
  finalPath: string,
): Promise<StoreOutcome> {
  const uids = uidsOf(record);
  const occupantUids = await readOccupantUids(finalPath);
  const clash = {
    sopInstanceUid: uids.sopInstanceUid,
    studyInstanceUid: uids.studyInstanceUid,
    seriesInstanceUid: uids.seriesInstanceUid,
    sourceAeTitle: source.sourceAeTitle,
    path: finalPath,
    ...occupantUids,
  };
  const rowsAtPath = context.catalog.findInstancesAt(finalPath);
  // A row of the received UID names this occupant only when it is a symbolic link or another non-regular file
  // (findIndexedFile returned no stored copy), so the row is replaced with the received instance's.
  const listedAsReceived = rowsAtPath.includes(uids.sopInstanceUid);
  const indexedAs = rowsAtPath.filter((uid) => uid !== uids.sopInstanceUid);
  if (indexedAs.length > 0) {
    context.logger.warn('Received an instance whose layout path contains a file indexed under another SOP Instance UID; sent a failure status', {
      ...clash,
      indexedSopInstanceUid: indexedAs.join(', '),
    });
    throw new ArchiveError('index', 'Path contains another indexed instance; run loader reindex');
  }

  const conflictPath = await keepConflict(context.root, finalPath, occupantUids.occupantSopInstanceUid ?? uids.sopInstanceUid, context.durability);
  const moved = listedAsReceived
    ? 'Moved a symbolic link or other non-regular file that the index listed as the stored copy out of the layout path of a received instance'
    : 'Moved an unindexed file with another data set out of the layout path of a received instance';
  context.logger.warn(moved, { ...clash, conflictPath });
  const linked = await linkIntoLayout(context, tempPath, finalPath);
  if (linked === 'exists') {
    // Another process placed a file at this path after the move, so the comparison starts again.
    return placeTemporaryFile(context, tempPath, header, record, source, fileSize);
  }
  if (context.durability === 'full') await fsyncDirectory(path.dirname(finalPath));
  try {
    await indexPlacedFile(context, record, fileInfo(finalPath, false, fileSize, source), source);
  } finally {
    if (linked === 'linked') await removeFileQuietly(tempPath);
  }
  context.logger.debug('Stored instance', { sopInstanceUid: uids.sopInstanceUid, sourceAeTitle: source.sourceAeTitle, path: finalPath, size: fileSize });
  return { outcome: 'stored', path: finalPath, size: fileSize, ...uids };
}

/** Returns whether `file` is a regular file itself ('file'), a symbolic link or another type ('other'), or gone ('none'). */
async function layoutOccupantType(file: string): Promise<'file' | 'other' | 'none'> {
  try {
    return (await fsp.lstat(file)).isFile() ? 'file' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw error;
  }
}

/** Returns the Study, Series and SOP Instance UIDs of the file at `file` as log fields, or none when it cannot be read as DICOM. */
async function readOccupantUids(file: string): Promise<{ occupantStudyInstanceUid?: string; occupantSeriesInstanceUid?: string; occupantSopInstanceUid?: string }> {
  try {
    const dataset = (await readDicomFileHeader(file)).dataset;
    return {
      occupantStudyInstanceUid: dataset.getString(Tags.StudyInstanceUID) ?? '',
      occupantSeriesInstanceUid: dataset.getString(Tags.SeriesInstanceUID) ?? '',
      occupantSopInstanceUid: dataset.getString(Tags.SOPInstanceUID) ?? '',
    };
  } catch {
    return {};
  }
}

/**
 * Places the copy `tempPath` of a file that the index lists in place (on a
 * scanned CD, say) into the layout, and points the index row at it, so the
 * instance no longer depends on that medium. Before, a scan with --import
 * after a scan without it copied nothing, and removing the CD lost the study.
 */
async function adoptInPlaceFile(
  context: PlacementContext,
  tempPath: string,
  finalPath: string,
  record: InstanceRecord,
  source: FileSource,
  fileSize: number,
  inPlacePath: string,
): Promise<StoreOutcome> {
  const uids = uidsOf(record);
  const linked = await linkIntoLayout(context, tempPath, finalPath);
  if (linked === 'exists') {
    // An unindexed file already has the layout name; the in-place row stays as it is.
    await removeFileQuietly(tempPath);
    return { outcome: 'duplicate', path: inPlacePath, size: fileSize, ...uids };
  }

  if (context.durability === 'full') await fsyncDirectory(path.dirname(finalPath));
  try {
    // Without rejectConflicts the row of the in-place file is replaced.
    await indexPlacedFile(context, record, fileInfo(finalPath, false, fileSize, source), source, false);
  } finally {
    if (linked === 'linked') await removeFileQuietly(tempPath);
  }
  context.logger.debug('Copied an instance indexed in place into the archive', { sopInstanceUid: uids.sopInstanceUid, from: inPlacePath, path: finalPath });
  return { outcome: 'stored', path: finalPath, size: fileSize, ...uids };
}

/** Logs at debug level that the archive already has the received instance, with both transfer syntaxes when it was re-encoded. */
function logDuplicate(
  context: PlacementContext,
  uids: ReturnType<typeof uidsOf>,
  source: FileSource,
  storedPath: string,
  comparison: ContentComparison,
  header: DicomFileHeader,
): void {
  const syntaxes = comparison.kind === 're-encoded' ? transferSyntaxFields(comparison.storedTransferSyntaxUid, header.transferSyntaxUid) : {};
  context.logger.debug('Received duplicate instance; kept the stored file', {
    sopInstanceUid: uids.sopInstanceUid,
    sourceAeTitle: source.sourceAeTitle,
    path: storedPath,
    ...syntaxes,
  });
}

/** Moves `file`, which the index rejected for `conflict`, to .conflicts and logs why. */
function keepIndexConflict(
  context: PlacementContext,
  file: string,
  header: DicomFileHeader,
  conflict: IndexConflictError,
  uids: ReturnType<typeof uidsOf>,
  source: FileSource,
  fileSize: number,
): Promise<StoreOutcome> {
  const message = 'Received an instance that conflicts with the index; kept it aside';
  return keepAside(context, file, header, uids, source, fileSize, message, { studyInstanceUid: uids.studyInstanceUid, reason: conflict.message });
}

/**
 * Moves `file` (whose header is `header`), which differs from the stored file
 * of its UID, to .conflicts and logs it. The log names both transfer
 * syntaxes when they differ, because a compressed and an uncompressed copy of
 * the same content count as different.
 */
function keepDifferentContent(
  context: PlacementContext,
  file: string,
  header: DicomFileHeader,
  existing: ExistingFile,
  record: InstanceRecord,
  source: FileSource,
  fileSize: number,
): Promise<StoreOutcome> {
  const uids = uidsOf(record);
  const queued = context.indexQueue.queuedEntry(uids.sopInstanceUid)?.record;
  const indexed = queued === undefined ? context.catalog.findInstance(uids.sopInstanceUid) : undefined;
  const storedSyntax = queued?.instance.transferSyntaxUid ?? indexed?.transferSyntaxUid;
  const storedPatientId = queued?.patient.patientId ?? indexed?.patientId;
  const syntaxes = transferSyntaxFields(storedSyntax, header.transferSyntaxUid);
  const otherPatient = storedPatientId === undefined ? undefined : otherPatientConflict('instance', storedPatientId, record);
  if (otherPatient) {
    const message = 'Received an instance of another Patient ID under a stored SOP Instance UID; kept it aside';
    return keepAside(context, file, header, uids, source, fileSize, message, { storedPath: existing.path, ...syntaxes }, otherPatient);
  }
  const message = 'Received different content for a stored SOP Instance UID; kept it aside';
  return keepAside(context, file, header, uids, source, fileSize, message, { storedPath: existing.path, ...syntaxes });
}

/** Moves `file` to .conflicts because its Study or Series Instance UID is stored under another Patient ID (`conflict`), and logs both IDs. */
function keepOtherPatient(
  context: PlacementContext,
  file: string,
  header: DicomFileHeader,
  conflict: OtherPatientConflict,
  uids: ReturnType<typeof uidsOf>,
  source: FileSource,
  fileSize: number,
): Promise<StoreOutcome> {
  const message = `Received an instance of another Patient ID for a stored ${conflict.level}; kept it aside`;
  return keepAside(context, file, header, uids, source, fileSize, message, {}, conflict);
}

/** Returns the log fields of a Patient ID conflict: the UIDs and both Patient IDs, never a patient name. */
export function otherPatientFields(conflict: OtherPatientConflict): Record<string, string> {
  return {
    conflictLevel: conflict.level,
    studyInstanceUid: conflict.studyInstanceUid,
    seriesInstanceUid: conflict.seriesInstanceUid,
    storedPatientId: conflict.storedPatientId,
    receivedPatientId: conflict.receivedPatientId,
  };
}

/** Returns the log fields of both transfer syntaxes of a conflict when they differ, and no fields otherwise. */
export function transferSyntaxFields(storedSyntax: string | undefined, receivedSyntax: string): Record<string, string> {
  if (storedSyntax === undefined || storedSyntax === receivedSyntax) return {};
  return { storedTransferSyntaxUid: storedSyntax, receivedTransferSyntaxUid: receivedSyntax };
}

/**
 * Moves `file` (whose header is `header`) to .conflicts, logs `message` with
 * `details`, and returns the 'conflict' outcome. When .conflicts already has
 * a copy of this SOP Instance UID with the same data set, it deletes `file`
 * instead and returns 'conflict' with that copy's path. So .conflicts keeps
 * one copy of each data set, and callers still report the conflict.
 */
async function keepAside(
  context: PlacementContext,
  file: string,
  header: DicomFileHeader,
  uids: ReturnType<typeof uidsOf>,
  source: FileSource,
  fileSize: number,
  message: string,
  details: Record<string, string>,
  otherPatient?: OtherPatientConflict,
): Promise<StoreOutcome> {
  const conflictFields = { ...details, ...(otherPatient ? otherPatientFields(otherPatient) : {}) };
  const conflictOutcome = otherPatient ? { otherPatient } : {};
  const keptCopy = await findKeptCopy(context.root, file, header, uids.sopInstanceUid);
  if (keptCopy !== undefined) {
    await removeFileQuietly(file);
    // Still a conflict: the archive's copy differs from the sender's, and a caller such as `loader get` reports it every time.
    context.logger.warn('Received content that conflicts with the archive and equals a copy kept aside before; not kept again', {
      sopInstanceUid: uids.sopInstanceUid,
      sourceAeTitle: source.sourceAeTitle,
      source: source.logDescription ?? source.description,
      ...conflictFields,
      conflictPath: keptCopy.path,
    });
    return { outcome: 'conflict', path: keptCopy.path, size: keptCopy.size, ...uids, ...conflictOutcome };
  }
  const conflictPath = await keepConflict(context.root, file, uids.sopInstanceUid, context.durability);
  context.logger.warn(message, {
    sopInstanceUid: uids.sopInstanceUid,
    sourceAeTitle: source.sourceAeTitle,
    source: source.logDescription ?? source.description,
    ...conflictFields,
    conflictPath,
  });
  return { outcome: 'conflict', path: conflictPath, size: fileSize, ...uids, ...conflictOutcome };
}

/**
 * Links `tempPath` to `finalPath` without replacing a file, creating the
 * folders when they are new. Returns 'exists' when `finalPath` exists,
 * 'linked' when both names remain, and 'moved' when only `finalPath` remains
 * (on a file system without hard links).
 *
 * link and unlink are synchronous calls: each takes microseconds, while a
 * thread pool round trip adds to the time the sender waits for the C-STORE
 * response. The folder fsync of 'full' durability is left to the caller.
 */
async function linkIntoLayout(context: PlacementContext, tempPath: string, finalPath: string): Promise<LinkOutcome> {
  const folder = path.dirname(finalPath);
  if (!context.knownFolders.has(folder)) await createFolders(context, folder);
  try {
    return linkNoReplaceSync(tempPath, finalPath, { keepSource: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    context.knownFolders.delete(folder);
    await createFolders(context, folder);
    return linkNoReplaceSync(tempPath, finalPath, { keepSource: true });
  }
}

/**
 * Creates the series folder and its study folder. In 'full' durability it
 * flushes the parent of each folder it created, because a file's folder entry
 * survives a power loss only when the entries of its folders do too.
 */
async function createFolders(context: PlacementContext, folder: string): Promise<void> {
  const firstCreated = await fsp.mkdir(folder, { recursive: true, mode: FOLDER_MODE });
  if (firstCreated !== undefined && context.durability === 'full') {
    for (let created = folder; ; created = path.dirname(created)) {
      await fsyncDirectory(path.dirname(created));
      if (created === firstCreated || path.dirname(created) === created) break;
    }
  }
  context.knownFolders.add(folder);
}

/**
 * Indexes a file just placed into the layout; removes the file again when indexing fails. Without
 * `rejectConflicts` a row of the same SOP Instance UID is replaced instead of rejected.
 */
async function indexPlacedFile(context: PlacementContext, record: InstanceRecord, file: StoredFile, source: FileSource, rejectConflicts = true): Promise<void> {
  try {
    await context.indexQueue.add({ record, file, source: source.description, rejectConflicts });
  } catch (error) {
    if (error instanceof IndexConflictError) throw error;
    // Keep the tree and the index consistent: a file that is not indexed is removed again.
    await removeFileQuietly(file.path);
    const failure = describeIndexWriteFailure(error, indexPath(context.root));
    throw new ArchiveError('index', `Failed to index ${record.instance.sopInstanceUid}: ${failure?.detail ?? describeError(error)}`, {
      cause: error,
      summary: failure?.comment,
    });
  }
}

/**
 * Returns the indexed file of this SOP Instance UID when it still exists on
 * disk. A row of the archive folder counts only when its path is a regular
 * file. Versions before the check of the layout path (layoutOccupantType)
 * indexed a symbolic link there as the stored copy, and a link's target may
 * be deleted or changed behind the archive's back. Such a row is replaced by
 * the received instance. The lstat runs only when a row exists, so storing a
 * new instance costs no extra call.
 */
async function findIndexedFile(context: PlacementContext, sopInstanceUid: string): Promise<ExistingFile | undefined> {
  const queued = context.indexQueue.queuedEntry(sopInstanceUid);
  if (queued !== undefined) return { path: queued.file.path, indexed: true, inPlace: queued.file.inPlace };
  const indexed = context.catalog.findInstance(sopInstanceUid);
  if (!indexed) return undefined;
  if (indexed.inPlace) {
    if (await exists(indexed.path)) return { path: indexed.path, indexed: true, inPlace: true };
  } else {
    const stats = await fsp.lstat(indexed.path).catch(() => undefined);
    if (stats?.isFile()) return { path: indexed.path, indexed: true, inPlace: false };
    if (stats !== undefined) {
      const kind = stats.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
      context.logger.warn(`Indexed file is ${kind}, so it is no stored copy; storing the received instance at its layout path`, {
        sopInstanceUid,
        path: indexed.path,
      });
      return undefined;
    }
  }
  context.logger.warn('Indexed file is missing on disk; it will be replaced', { sopInstanceUid, path: indexed.path });
  return undefined;
}

/** Names of kept copies after their SOP Instance UID and a dot: a conflictFileName time stamp and an optional attempt number. */
const KEPT_COPY_SUFFIX = /^\d{8}T\d{9}Z(\.\d+)?\.dcm$/;

/**
 * Returns the copy in .conflicts of `sopInstanceUid` whose data set is the
 * same as that of `file` (byte-identical or re-encoded, see compareContent).
 */
async function findKeptCopy(root: string, file: string, header: DicomFileHeader, sopInstanceUid: string): Promise<{ path: string; size: number } | undefined> {
  let names: string[];
  try {
    names = await fsp.readdir(conflictsFolder(root));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const prefix = `${sopInstanceUid}.`;
  // NOTE: each kept copy of the UID is compared in turn, so many different copies of one UID make this slow.
  for (const name of names.sort()) {
    if (!name.startsWith(prefix) || !KEPT_COPY_SUFFIX.test(name.slice(prefix.length))) continue;
    const kept = path.join(conflictsFolder(root), name);
    if ((await compareContent(kept, file, header)).kind === 'different') continue;
    return { path: kept, size: (await fsp.stat(kept)).size };
  }
  return undefined;
}

/** Moves a temporary file to .conflicts/<SOPInstanceUID>.<timestamp>.dcm and returns its path. */
export async function keepConflict(
  root: string,
  tempPath: string,
  sopInstanceUid: string,
  durability: ArchiveDurability = 'full',
): Promise<string> {
  const folder = conflictsFolder(root);
  await fsp.mkdir(folder, { recursive: true, mode: FOLDER_MODE });
  for (let attempt = 0; ; attempt++) {
    const name = conflictFileName(sopInstanceUid, new Date());
    const target = path.join(folder, attempt === 0 ? name : name.replace(/\.dcm$/, `.${attempt}.dcm`));
    if (await moveNoReplace(tempPath, target)) {
      if (durability === 'full') await fsyncDirectory(folder);
      return target;
    }
  }
}

/**
 * Moves `file` to .conflicts as keepConflict does, synchronously and without
 * fsync, for a deferred commit ('process-crash') that found the UID stored.
 */
export function keepConflictSync(root: string, file: string, sopInstanceUid: string): string {
  const folder = conflictsFolder(root);
  fs.mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
  for (let attempt = 0; ; attempt++) {
    const name = conflictFileName(sopInstanceUid, new Date());
    const target = path.join(folder, attempt === 0 ? name : name.replace(/\.dcm$/, `.${attempt}.dcm`));
    if (linkNoReplaceSync(file, target, { keepSource: false }) !== 'exists') return target;
  }
}

/**
 * Deletes `keptPath`, a copy that keepConflictSync has just moved to
 * .conflicts, when .conflicts already has a copy of `sopInstanceUid` with the
 * same data set, and returns that copy. So conflicts found only at a deferred
 * commit also keep one copy of each data set, as keepAside does. Returns
 * undefined when `keptPath` stays, or when it no longer exists.
 */
export async function keepConflictOnce(root: string, keptPath: string, sopInstanceUid: string): Promise<{ path: string; size: number } | undefined> {
  let header: DicomFileHeader;
  try {
    header = await readDicomFileHeader(keptPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // NOTE: findKeptCopy returns the first equal copy in name order, which is the oldest, unless two copies
  // were kept in the same millisecond: then `keptPath` (named with .1) may come first and both stay.
  const earlier = await findKeptCopy(root, keptPath, header, sopInstanceUid);
  if (earlier === undefined || earlier.path === keptPath) return undefined;
  await removeFileQuietly(keptPath);
  return earlier;
}

export function uidsOf(record: InstanceRecord) {
  return {
    studyInstanceUid: record.study.studyInstanceUid,
    seriesInstanceUid: record.series.seriesInstanceUid,
    sopInstanceUid: record.instance.sopInstanceUid,
  };
}

export function fileInfo(file: string, inPlace: boolean, size: number, source: FileSource): StoredFile {
  return { path: file, inPlace, size, receivedAt: new Date().toISOString(), sourceAeTitle: source.sourceAeTitle };
}
