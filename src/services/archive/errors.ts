/**
 * Typed errors of the local archive. The C-STORE and C-FIND providers map
 * `code` to a DICOM status, so each code names one cause.
 */

export type ArchiveErrorCode =
  /** A UID is malformed or unsafe to use in a path. */
  | 'invalid-uid'
  /** A required attribute (Study, Series or SOP Instance UID) is absent or empty. */
  | 'missing-attribute'
  /** The data set's SOP Instance or SOP Class UID differs from the command's. */
  | 'uid-mismatch'
  /** The bytes are not DICOM or the header cannot be parsed. */
  | 'unreadable'
  /** Reading or writing the file system failed. */
  | 'io'
  /** The SQLite index failed or has a schema this version cannot use. */
  | 'index'
  /** The archive was closed before the call. */
  | 'closed'
  /** Another process uses the archive in a way that excludes the call: reindex and any other use. */
  | 'in-use';

export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
  /**
   * The reason in at most 64 characters, for Error Comment (0000,0902), when
   * the message is longer. The message keeps the path and what to do.
   */
  readonly summary: string | undefined;

  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
    options?: { cause?: unknown; summary?: string },
  ) {
    super(message, options);
    this.summary = options?.summary;
  }
}

/** Error of the query engine, which a C-FIND provider maps to status A900 or C000. */
export type QueryErrorCode =
  /** A unique key of a level above the query level is missing (hierarchical query). */
  | 'missing-unique-key'
  /** The query level does not exist in the information model. */
  | 'invalid-level'
  /** A key value cannot be matched, for example a malformed date range. */
  | 'invalid-key'
  /** The unique key of a level below the query level has a value, as SeriesInstanceUID in a STUDY level query. */
  | 'key-below-level'
  /** A key value is longer than the maximum of its VR. */
  | 'value-too-long';

export class QueryError extends Error {
  override readonly name = 'QueryError';

  constructor(
    readonly code: QueryErrorCode,
    message: string,
    /** DICOM keyword of the key at fault, when one key is. */
    readonly keyword?: string,
  ) {
    super(message);
  }
}

/** Returns the message of any thrown value, for logs and scan reports. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Describes a failure to read a file or list a folder. A permission error gets
 * the remedy, because Node's message ("EACCES: permission denied, open ...")
 * reads like damage and gives no remedy.
 */
export function describeReadError(error: unknown, kind: 'file' | 'folder'): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'EACCES' && code !== 'EPERM') return describeError(error);
  const verb = kind === 'file' ? 'read this file' : 'list this folder';
  return (
    `permission denied (${code}): the user running the loader may not ${verb}; ` +
    `give that user read access (chmod, chown) or run the scan as a user who has it`
  );
}
