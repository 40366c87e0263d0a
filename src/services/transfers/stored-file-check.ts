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
  if (instance.inPlace) {
    // A reindex would drop such a file from the index, so that is not the first thing to suggest.
    return new Error(
      `${instance.path} is missing; it was indexed where it was found, outside the archive, and that disc or folder is no longer there. ` +
        'Put it back, and run "loader scan --import" on it to keep a copy in the archive',
    );
  }
  return new Error(`${instance.path} is missing; it was deleted after it was indexed, so run "loader reindex" to rebuild the index from the files`);
}

/** Offset of the "DICM" prefix in a Part 10 file, after the 128-byte preamble (PS3.10 section 7.1). */
const PREFIX_OFFSET = 128;
const PREFIX = 'DICM';
/** The prefix and the tag of the first file meta element that follows it. */
const PREFIX_CHECK_BYTES = PREFIX_OFFSET + PREFIX.length + 4;

/**
 * Throws when the stored file has file meta information at byte 132 but no
 * "DICM" prefix before it, as a Part 10 file whose prefix was overwritten has.
 * The header reader then parses the preamble as data set elements, which
 * fails with a misleading "truncated" or "not a DICOM file" error, or reads
 * wrong elements.
 */
export async function checkPart10Prefix(instance: StoredInstance): Promise<void> {
  const head = Buffer.alloc(PREFIX_CHECK_BYTES);
  let bytesRead: number;
  try {
    const handle = await fs.promises.open(instance.path, 'r');
    try {
      ({ bytesRead } = await handle.read(head, 0, head.length, 0));
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw describeMissingFile(instance, error);
  }
  if (bytesRead < PREFIX_CHECK_BYTES) return;

  const prefix = head.subarray(PREFIX_OFFSET, PREFIX_OFFSET + PREFIX.length);
  const metaGroupFollows = head.readUInt16LE(PREFIX_OFFSET + PREFIX.length) === 0x0002;
  if (prefix.toString('latin1') === PREFIX || !metaGroupFollows) return;
  const found = [...prefix].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
  throw new Error(
    `${instance.path} is not a DICOM Part 10 file any more: the DICM prefix at byte offset ${PREFIX_OFFSET} is missing ` +
      `(bytes ${found} in its place, with the file meta information after them); ${REINDEX_HINT}`,
  );
}

/**
 * Returns the error to report for a stored file whose header could not be
 * read: a clear one for a deleted file or an overwritten DICM prefix, and
 * `error` itself otherwise.
 */
export async function describeUnreadableFile(instance: StoredInstance, error: unknown): Promise<unknown> {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return describeMissingFile(instance, error);
  try {
    await checkPart10Prefix(instance);
  } catch (prefixError) {
    return prefixError;
  }
  return error;
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

  let header: DicomFileHeader;
  try {
    header = await readDicomFileHeader(instance.path);
  } catch (error) {
    throw await describeUnreadableFile(instance, error);
  }
  // A file read as a data set without file meta information may be a Part 10 file with its prefix overwritten.
  if (header.meta.elements.size === 0) await checkPart10Prefix(instance);
  checkStoredFileFacts(instance, {
    transferSyntaxUid: header.transferSyntaxUid,
    sopInstanceUid: header.dataset.getString(Tags.SOPInstanceUID) ?? header.meta.getString(Tags.MediaStorageSOPInstanceUID),
  });
  return header;
}
