/**
 * Whether a file indexed in place changed since its index row was written,
 * for the scan and for importFile, which index it again when it did.
 */
import fs from 'node:fs';
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
