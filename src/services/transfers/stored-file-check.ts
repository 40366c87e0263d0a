/**
 * Checks that an archived file is still the one its index row describes,
 * before it is sent or anonymized. A file changed, cut or replaced behind the
 * archive's back fails with the difference and a hint to run loader reindex,
 * so it never goes out under its indexed SOP Instance UID.
 *
 * NOTE: a change that keeps the size, the transfer syntax and the SOP
 * Instance UID (an edited Patient ID, say) is not detected.
 */

import fs from 'node:fs';
import { readDicomFileHeader, type DicomFileHeader } from '../../dicom/file-reader';
import { Tags } from '../../dicom/tags';
import type { StoredInstance } from '../archive';

const REINDEX_HINT = 'the file changed after it was indexed, so run "loader reindex" to check it and rebuild the index from the files';

/** Values read from a stored file, to compare with its index row. */
export interface StoredFileFacts {
  size?: number;
  transferSyntaxUid?: string;
  /** The data set's SOP Instance UID (0008,0018), or the meta information's (0002,0003). */
  sopInstanceUid?: string;
}

/** Throws when any of the given facts differs from the index row of `instance`. */
export function checkStoredFileFacts(instance: StoredInstance, facts: StoredFileFacts): void {
  if (facts.size !== undefined && facts.size !== instance.size) {
    throw new Error(`${instance.path} has ${facts.size} bytes but the index records ${instance.size}; ${REINDEX_HINT}`);
  }
  if (facts.transferSyntaxUid !== undefined && facts.transferSyntaxUid !== instance.transferSyntaxUid) {
    throw new Error(
      `${instance.path} has transfer syntax ${facts.transferSyntaxUid} but the index records ${instance.transferSyntaxUid}; ${REINDEX_HINT}`,
    );
  }
  if (facts.sopInstanceUid !== undefined && facts.sopInstanceUid !== instance.sopInstanceUid) {
    throw new Error(
      `${instance.path} contains SOP Instance UID ${facts.sopInstanceUid} but the index records ${instance.sopInstanceUid} for it; ${REINDEX_HINT}`,
    );
  }
}

/** Returns a clear error for a stored file that is gone (ENOENT), and `error` itself otherwise. */
export function describeMissingFile(instance: StoredInstance, error: unknown): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return error;
  return new Error(`${instance.path} is missing; it was deleted after it was indexed, so run "loader reindex" to rebuild the index from the files`);
}

/**
 * Reads the size and header of the stored file of `instance`, checks them
 * against its index row, and returns the header. For files that are
 * converted, decompressed or anonymized before they go, which read the whole
 * file anyway.
 */
export async function checkStoredFile(instance: StoredInstance): Promise<DicomFileHeader> {
  let size: number;
  try {
    size = (await fs.promises.stat(instance.path)).size;
  } catch (error) {
    throw describeMissingFile(instance, error);
  }
  checkStoredFileFacts(instance, { size });

  const header = await readDicomFileHeader(instance.path);
  checkStoredFileFacts(instance, {
    transferSyntaxUid: header.transferSyntaxUid,
    sopInstanceUid: header.dataset.getString(Tags.SOPInstanceUID) ?? header.meta.getString(Tags.MediaStorageSOPInstanceUID),
  });
  return header;
}
