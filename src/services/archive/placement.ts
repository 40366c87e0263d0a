/**
 * Places a complete temporary file into the archive layout, deciding between
 * stored, duplicate and conflict:
 *
 * - no file with the SOP Instance UID yet: move it into place (hard link, so an
 *   existing file is never replaced), fsync the folder, index it;
 * - the stored file has the same data set bytes: delete the temporary file;
 * - the stored file differs: move the temporary file to .conflicts and keep the
 *   stored file.
 *
 * The caller holds the per-UID lock and deletes the temporary file on error.
 */

import fsp from 'node:fs/promises';
import path from 'node:path';
import { readDicomFileHeader, type DicomFileHeader } from '../../dicom/file-reader';
import type { Logger } from '../logger';
import type { ArchiveCatalog, StoredFile } from './catalog';
import { ArchiveError, describeError } from './errors';
import { datasetBytesEqual, exists, fsyncDirectory, moveNoReplace, removeFileQuietly } from './file-ops';
import type { InstanceRecord } from './instance-record';
import { FOLDER_MODE, conflictFileName, conflictsFolder, relativeInstancePath } from './layout';

export type StoreOutcomeKind = 'stored' | 'duplicate' | 'conflict';

export interface StoreOutcome {
  outcome: StoreOutcomeKind;
  /**
   * Absolute path of the instance: the archive file ('stored'), the file
   * already stored ('duplicate'), or the file kept aside in .conflicts
   * ('conflict'). For files indexed in place it is the file's own path.
   */
  path: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  /** Size in bytes of the file at `path`. */
  size: number;
}

export interface PlacementContext {
  root: string;
  catalog: ArchiveCatalog;
  logger: Logger;
}

/** The file's origin, recorded in the index and in logs. */
export interface FileSource {
  /** Calling AE title for C-STORE, '' for files from disk. */
  sourceAeTitle: string;
  /** AE title or original path, for logs and study conflicts. */
  description: string;
}

/** An already indexed or stored file with the same SOP Instance UID. */
interface ExistingFile {
  path: string;
  indexed: boolean;
}

/** Places `tempPath` (whose header is `header`) into the layout; see the file comment. */
export async function placeTemporaryFile(
  context: PlacementContext,
  tempPath: string,
  header: DicomFileHeader,
  record: InstanceRecord,
  source: FileSource,
): Promise<StoreOutcome> {
  const { root, catalog, logger } = context;
  const uids = uidsOf(record);
  const finalPath = path.join(root, relativeInstancePath(uids));
  const size = (await fsp.stat(tempPath)).size;

  let existing = await findExistingFile(context, uids.sopInstanceUid, finalPath);
  if (!existing) {
    await fsp.mkdir(path.dirname(finalPath), { recursive: true, mode: FOLDER_MODE });
    if (await moveNoReplace(tempPath, finalPath)) {
      await fsyncDirectory(path.dirname(finalPath));
      try {
        catalog.addInstance(record, fileInfo(finalPath, false, size, source), source.description);
      } catch (error) {
        // Keep the tree and the index consistent: a file that is not indexed is removed again.
        await removeFileQuietly(finalPath);
        throw new ArchiveError('index', `Failed to index ${uids.sopInstanceUid}: ${describeError(error)}`, {
          cause: error,
        });
      }
      logger.info('Stored instance', { sopInstanceUid: uids.sopInstanceUid, sourceAeTitle: source.sourceAeTitle, path: finalPath, size });
      return { outcome: 'stored', path: finalPath, size, ...uids };
    }
    // Another writer placed the file after the check above.
    existing = { path: finalPath, indexed: false };
  }

  if (await sameDatasetBytes(existing.path, tempPath, header.datasetOffset)) {
    await removeFileQuietly(tempPath);
    const existingSize = (await fsp.stat(existing.path)).size;
    if (!existing.indexed) {
      // A file from an interrupted earlier store: it is complete (it was placed by link), so index it.
      catalog.addInstance(record, fileInfo(existing.path, false, existingSize, source), source.description);
    }
    logger.info('Received duplicate instance; kept the stored file', {
      sopInstanceUid: uids.sopInstanceUid,
      sourceAeTitle: source.sourceAeTitle,
      path: existing.path,
    });
    return { outcome: 'duplicate', path: existing.path, size: existingSize, ...uids };
  }

  const conflictPath = await keepConflict(root, tempPath, uids.sopInstanceUid);
  logger.warn('Received different content for a stored SOP Instance UID; kept it aside', {
    sopInstanceUid: uids.sopInstanceUid,
    sourceAeTitle: source.sourceAeTitle,
    source: source.description,
    storedPath: existing.path,
    conflictPath,
  });
  return { outcome: 'conflict', path: conflictPath, size, ...uids };
}

/** Moves a temporary file to .conflicts/<SOPInstanceUID>.<timestamp>.dcm and returns its path. */
export async function keepConflict(root: string, tempPath: string, sopInstanceUid: string): Promise<string> {
  const folder = conflictsFolder(root);
  await fsp.mkdir(folder, { recursive: true, mode: FOLDER_MODE });
  for (let attempt = 0; ; attempt++) {
    const name = conflictFileName(sopInstanceUid, new Date());
    const target = path.join(folder, attempt === 0 ? name : name.replace(/\.dcm$/, `.${attempt}.dcm`));
    if (await moveNoReplace(tempPath, target)) {
      await fsyncDirectory(folder);
      return target;
    }
  }
}

/**
 * Returns the file that contains this SOP Instance UID: the indexed file when
 * it still exists on disk, else a file at the layout path that the index lacks.
 */
export async function findExistingFile(
  context: PlacementContext,
  sopInstanceUid: string,
  layoutPath: string,
): Promise<ExistingFile | undefined> {
  const indexed = context.catalog.findInstance(sopInstanceUid);
  if (indexed && (await exists(indexed.path))) return { path: indexed.path, indexed: true };
  if (indexed) {
    context.logger.warn('Indexed file is missing on disk; it will be replaced', { sopInstanceUid, path: indexed.path });
  }
  if (await exists(layoutPath)) return { path: layoutPath, indexed: false };
  return undefined;
}

/** Compares the data set bytes of a stored file with those of `candidatePath`. An unreadable stored file differs. */
export async function sameDatasetBytes(storedPath: string, candidatePath: string, candidateOffset: number): Promise<boolean> {
  let storedHeader: DicomFileHeader;
  try {
    storedHeader = await readDicomFileHeader(storedPath);
  } catch {
    return false;
  }
  return datasetBytesEqual(
    { path: storedPath, datasetOffset: storedHeader.datasetOffset },
    { path: candidatePath, datasetOffset: candidateOffset },
  );
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
