/**
 * Checks that an archived file is still the one its index row describes,
 * before it is sent or anonymized. A file changed, cut or replaced behind the
 * archive's back fails with the difference and a hint to run loader reindex,
 * or loader scan for a file indexed in place that now contains another
 * instance, so it never goes out under its indexed SOP Instance UID.
 *
 * NOTE: a change that keeps the size, the transfer syntax and the SOP
 * Instance UID (an edited Patient ID, say) is not detected.
 */

import fs from 'node:fs';
import { readDicomFileHeader, type DatasetLocation, type DicomFileHeader } from '../../dicom/file-reader';
import { Tags } from '../../dicom/tags';
import type { StoredInstance } from '../archive';
import { isSymbolicLinkSync, readLinkTarget } from '../archive/file-ops';
import { FileSizeChangedError } from './pooled-file-source';

const REINDEX_HINT = 'the file changed after it was indexed, so run "loader reindex" to check it and rebuild the index from the files';

/** Values read from a stored file, to compare with its index row. */
export interface StoredFileFacts {
  size?: number;
  transferSyntaxUid?: string;
  /** The data set's SOP Instance UID (0008,0018), or the meta information's (0002,0003). */
  sopInstanceUid?: string;
  /** The data set's SOP Class UID (0008,0016), or the meta information's (0002,0002). */
  sopClassUid?: string;
}

/**
 * Throws when any of the given facts differs from the index row of `instance`.
 * Another SOP Instance UID is named before the other differences, because then
 * the file is another instance, possibly of another patient.
 */
export function checkStoredFileFacts(instance: StoredInstance, facts: StoredFileFacts): void {
  // Each message starts with a short clause, because a DIMSE Error Comment (0000,0902) keeps only 64 characters.
  if (facts.size !== undefined && facts.size !== instance.size) throw describeChangedSize(instance, facts.size);
  if (facts.sopInstanceUid !== undefined && facts.sopInstanceUid !== instance.sopInstanceUid) {
    throw new Error(
      `stored file now contains another instance: ${instance.path} contains SOP Instance UID ${facts.sopInstanceUid} ` +
        `but the index records ${instance.sopInstanceUid} for it; ${changedFileHint(instance)}`,
    );
  }
  if (facts.sopClassUid !== undefined && facts.sopClassUid !== instance.sopClassUid) {
    throw new Error(
      `stored file changed since it was indexed: ${instance.path} contains SOP Class UID ${facts.sopClassUid} ` +
        `but the index records ${instance.sopClassUid}; ${changedFileHint(instance)}`,
    );
  }
  if (facts.transferSyntaxUid !== undefined && facts.transferSyntaxUid !== instance.transferSyntaxUid) {
    throw new Error(
      `stored file changed since it was indexed: ${instance.path} has transfer syntax ${facts.transferSyntaxUid} ` +
        `but the index records ${instance.transferSyntaxUid}; ${changedFileHint(instance)}`,
    );
  }
}

/**
 * Returns what to do about a stored file that changed since it was indexed.
 * A scan indexes a file indexed in place again when its size changed or it was
 * modified after its row was written, and removes the row of an instance that
 * the file no longer contains. A reindex cannot run while `loader serve` has
 * the archive open, so it is the hint only for files in the archive folder.
 *
 * NOTE: a scan counts a file copied over with its original modification time
 * and the same size as unchanged. Only "loader reindex" reads such a file again.
 */
function changedFileHint(instance: StoredInstance): string {
  if (!instance.inPlace) return REINDEX_HINT;
  return `the file was indexed in place and was changed or overwritten since, so run "loader scan ${instance.path}" to index it again`;
}

/**
 * Returns the error for a row of the archive folder whose path is a symbolic
 * link. Versions before the layout-path check of a C-STORE indexed such links
 * as stored copies. The archive sends only its own regular files, because the
 * link's target may change or go without the archive noticing.
 */
function describeLinkedFile(instance: StoredInstance): Error {
  const target = readLinkTarget(instance.path);
  return new Error(
    `stored file is a symbolic link: ${instance.path} leads to ${target}, and the archive sends only its own files; ` +
      'run "loader reindex" to replace the link with a copy of the file it leads to',
  );
}

/**
 * A file of the archive folder that is gone although its index row was read.
 * A deletion removes the row before the file, so when the index no longer
 * lists sopInstanceUid, the instance was deleted on purpose meanwhile and the
 * hint to reindex in the message does not apply.
 */
export class StoredFileMissingError extends Error {
  override readonly name = 'StoredFileMissingError';

  constructor(
    readonly sopInstanceUid: string,
    message: string,
  ) {
    super(message);
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
  return new StoredFileMissingError(
    instance.sopInstanceUid,
    `${instance.path} is missing; it was deleted after it was indexed, so run "loader reindex" to rebuild the index from the files`,
  );
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

function describeChangedSize(instance: StoredInstance, size: number): Error {
  return new Error(
    `stored file changed since it was indexed: ${instance.path} has ${size} bytes but the index records ${instance.size}; ${changedFileHint(instance)}`,
  );
}

/**
 * Returns the error to report for a stored file whose header could not be
 * read: a clear one for a deleted file, a changed size or an overwritten DICM
 * prefix, and `error` itself otherwise.
 */
export async function describeUnreadableFile(instance: StoredInstance, error: unknown): Promise<unknown> {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return describeMissingFile(instance, error);
  // PooledFileSource.open with noFollow fails with ELOOP on a symbolic link.
  if ((error as NodeJS.ErrnoException).code === 'ELOOP' && !instance.inPlace && isSymbolicLinkSync(instance.path)) return describeLinkedFile(instance);
  if (error instanceof FileSizeChangedError) return describeChangedSize(instance, error.fileSize);
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
    // A row of the archive folder must name a regular file (see describeLinkedFile), and lstat costs no more than stat.
    const stats = instance.inPlace ? await fs.promises.stat(instance.path) : await fs.promises.lstat(instance.path);
    if (stats.isSymbolicLink()) throw describeLinkedFile(instance);
    size = stats.size;
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
    sopClassUid: header.dataset.getString(Tags.SOPClassUID) ?? header.meta.getString(Tags.MediaStorageSOPClassUID),
  });
  return header;
}

/**
 * Checks the header of a stored file that goes verbatim against the index row
 * of `instance`. `location` comes from PooledFileSource.open, which parses only
 * the file meta information. The Media Storage SOP Instance UID (0002,0003)
 * and SOP Class UID (0002,0002) of that group (PS3.10 section 7.1) must equal
 * the index row. A file without them, such as a bare data set without file
 * meta information, has its header read again for the data set's SOP
 * Instance UID (0008,0018) and SOP Class UID (0008,0016).
 */
export async function checkSentFileLocation(instance: StoredInstance, location: DatasetLocation): Promise<void> {
  // A data set that starts at byte 0 has no file meta information, so the file may be a Part 10 file with its prefix overwritten.
  if (location.datasetOffset === 0) await checkPart10Prefix(instance);
  checkStoredFileFacts(instance, {
    sopInstanceUid: location.mediaStorageSopInstanceUid,
    sopClassUid: location.mediaStorageSopClassUid,
    transferSyntaxUid: location.transferSyntaxUid,
  });
  if (location.mediaStorageSopInstanceUid !== undefined && location.mediaStorageSopClassUid !== undefined) return;

  let header: DicomFileHeader;
  try {
    header = await readDicomFileHeader(instance.path);
  } catch (error) {
    throw await describeUnreadableFile(instance, error);
  }
  checkStoredFileFacts(instance, {
    sopInstanceUid: header.dataset.getString(Tags.SOPInstanceUID),
    sopClassUid: header.dataset.getString(Tags.SOPClassUID),
  });
}
