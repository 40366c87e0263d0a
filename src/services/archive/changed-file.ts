/**
 * Changes to files indexed in place, for the scan and for importFile: whether
 * a file changed since its index row was written, so it is indexed again, and
 * which rows point at a file that another instance has overwritten since.
 */
import fs from 'node:fs';
import type { Logger } from '../logger';
import type { ArchiveCatalog, IndexedInstance } from './catalog';

/**
 * Returns true when the file of an in-place index row differs in size from
 * `fileSize`, or was modified after the row was written.
 */
export function indexedFileChanged(catalog: ArchiveCatalog, indexed: IndexedInstance, fileSize: number): boolean {
  if (indexed.size !== fileSize) return true;
  const indexedAt = catalog.instanceIndexedAt(indexed.sopInstanceUid);
  if (indexedAt === undefined) return false;
  let modifiedAt: number;
  try {
    modifiedAt = fs.statSync(indexed.path).mtimeMs;
  } catch {
    return false;
  }
  // NOTE: a file copied with its original time, or changed within the same millisecond as the row, counts as unchanged.
  return modifiedAt > Date.parse(indexedAt);
}

/**
 * Removes the in-place rows at `file` listed in `indexedUids` whose instance is
 * not `sopInstanceUid`, the instance the file now contains. Otherwise C-FIND,
 * C-MOVE and C-GET would offer them and send this file's data set. A row
 * indexed at another path meanwhile is kept. Returns the SOP Instance UIDs removed.
 *
 * A scan removes the rows of a file that is now damaged or not DICOM itself
 * (Scan.removeRowsOfBrokenFile).
 *
 * NOTE: importFile without a copy (the window's load of one file) keeps the
 * rows of a file that is now damaged or not DICOM.
 */
export function removeReplacedInstances(
  catalog: ArchiveCatalog,
  file: string,
  sopInstanceUid: string,
  indexedUids: readonly string[],
  logger: Logger,
): string[] {
  const removed: string[] = [];
  for (const indexedUid of indexedUids) {
    if (indexedUid === sopInstanceUid || !catalog.removeInPlaceInstanceAt(indexedUid, file)) continue;
    logger.warn('Removed the index entry of an instance whose file, indexed in place, now contains another instance', {
      path: file,
      previousSopInstanceUid: indexedUid,
      sopInstanceUid,
    });
    removed.push(indexedUid);
  }
  return removed;
}
