/**
 * Folder layout of the archive:
 *
 *   <root>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm
 *   <root>/.incoming/   temporary files of transfers in progress
 *   <root>/.conflicts/  received files whose UID is stored with other content
 *   <root>/.processes/  markers of the processes using the archive (archive-users.ts)
 *   <root>/.trash/      files of a `loader delete` in progress (deletion.ts)
 *   <root>/index.sqlite the SQLite index
 *
 * Folders whose name starts with a dot are internal and skipped by reindex.
 */

import path from 'node:path';
import { assertValidUid } from '../../dicom/uid';
import { ArchiveError, describeError } from './errors';

export const INCOMING_FOLDER = '.incoming';
export const CONFLICTS_FOLDER = '.conflicts';
export const PROCESSES_FOLDER = '.processes';
export const TRASH_FOLDER = '.trash';
export const INDEX_FILE = 'index.sqlite';
export const INSTANCE_EXTENSION = '.dcm';

/** Permissions of folders the archive creates: the files contain patient data. */
export const FOLDER_MODE = 0o700;
export const FILE_MODE = 0o600;

export interface InstanceUids {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/**
 * Validates a UID before it becomes part of a path. A valid UID contains only
 * digits and dots (PS3.5 section 9.1), so it can never contain a separator or '..'.
 */
export function requireValidUid(value: string | undefined, attributeName: string): string {
  if (value === undefined || value === '') {
    throw new ArchiveError('missing-attribute', `${attributeName} is missing or empty`);
  }
  try {
    assertValidUid(value, attributeName);
  } catch (error) {
    throw new ArchiveError('invalid-uid', describeError(error), { cause: error });
  }
  return value;
}

/** Returns the path of an instance relative to the archive root, after validating every UID. */
export function relativeInstancePath(uids: InstanceUids): string {
  const study = requireValidUid(uids.studyInstanceUid, 'Study Instance UID (0020,000D)');
  const series = requireValidUid(uids.seriesInstanceUid, 'Series Instance UID (0020,000E)');
  const sop = requireValidUid(uids.sopInstanceUid, 'SOP Instance UID (0008,0018)');
  return path.join(study, series, sop + INSTANCE_EXTENSION);
}

export function incomingFolder(root: string): string {
  return path.join(root, INCOMING_FOLDER);
}

export function conflictsFolder(root: string): string {
  return path.join(root, CONFLICTS_FOLDER);
}

export function processesFolder(root: string): string {
  return path.join(root, PROCESSES_FOLDER);
}

export function trashFolder(root: string): string {
  return path.join(root, TRASH_FOLDER);
}

export function indexPath(root: string): string {
  return path.join(root, INDEX_FILE);
}

/** Returns a conflict file name such as 1.2.3.20260101T120000123Z.dcm (UTC, milliseconds). */
export function conflictFileName(sopInstanceUid: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${sopInstanceUid}.${stamp}${INSTANCE_EXTENSION}`;
}

const CONFLICT_FILE_NAME = /^(?<uid>[0-9.]+?)\.\d{8}T\d{9}Z(?:\.\d+)?\.dcm$/;

/** Returns the SOP Instance UID that a conflictFileName (with an optional attempt number) starts with, or undefined for other names. */
export function conflictFileUid(name: string): string | undefined {
  return CONFLICT_FILE_NAME.exec(name)?.groups?.uid;
}

/** Returns true for folder names reindex and scans of the archive skip. */
export function isInternalName(name: string): boolean {
  return name.startsWith('.');
}
