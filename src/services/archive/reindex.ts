/**
 * Rebuilds the archive index from the folder tree: a new database file is
 * built next to the index and then renamed over it, so a failed rebuild
 * leaves the old index in place.
 */

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DEFAULT_LEGACY_CHARACTER_SET, type LegacyCharacterSet } from '../../dicom/charset';
import { readDicomFileHeaderSync } from '../../dicom/file-reader';
import { createLogger, type Logger } from '../logger';
import { describeArchiveUsers, markArchiveUse, otherArchiveUserDetails, otherArchiveUsers } from './archive-users';
import { ArchiveCatalog, IndexConflictError, OtherPatientError, describeOtherPatient, type OtherPatientConflict } from './catalog';
import { finishInterruptedDeletions } from './deletion';
import { ArchiveError, describeError } from './errors';
import { fsyncDirectorySync, fsyncFileSync, isSymbolicLinkSync, linkNoReplaceSync, readLinkTarget } from './file-ops';
import { warnFileMetaElementsInDataset } from './file-meta-notice';
import {
  readInstanceRecord,
  type InstanceAttributes,
  type InstanceRecord,
  type PatientAttributes,
  type SeriesAttributes,
  type StudyAttributes,
} from './instance-record';
import { FILE_MODE, FOLDER_MODE, INDEX_FILE, indexPath, isInternalName, relativeInstancePath } from './layout';
import { temporaryPath } from './incoming';
import { keepConflictSync, otherPatientFields, uidsOf } from './placement';
import { openIndexDatabase } from './schema';
import { FileWalker, type WalkProblem } from './walk';

export interface ReindexOptions {
  logger?: Logger;
  /** Files indexed per SQLite transaction (default 500). */
  batchSize?: number;
  /** Drop the rows of files indexed in place that are not reachable, instead of keeping them (default false). */
  dropUnreachable?: boolean;
  /** Character set of undeclared text that is not UTF-8 (see OpenArchiveOptions.legacyCharacterSet); default Latin-1. */
  legacyCharacterSet?: LegacyCharacterSet;
}

/**
 * Why reindex left a file out of the new index:
 * - `unreadable`: not a DICOM file, damaged, or without valid UIDs;
 * - `duplicate`: a readable second copy of an instance indexed from another file;
 * - `conflict`: its series is indexed under another study, or its study or
 *   series under another Patient ID (`otherPatient`). The first file indexed
 *   keeps the study, and the files of a study folder are indexed oldest
 *   modification time first (see filesByStudyFolder). A file of another
 *   Patient ID whose UIDs do not match its path is moved to .conflicts;
 * - `misplaced`: a file in the archive folder whose Study, Series or SOP
 *   Instance UID differs from its path, whose layout path contains another
 *   file. It was moved to .conflicts;
 * - `removed`: a file indexed in place that was deleted from a folder that is
 *   still there, that now contains another instance or no DICOM data, or
 *   that is not reachable while `dropUnreachable` is set.
 */
export type ReindexProblemKind = 'unreadable' | 'duplicate' | 'conflict' | 'misplaced' | 'removed' | 'dropped';

export interface ReindexProblem extends WalkProblem {
  kind: ReindexProblemKind;
  /** True for a `conflict` whose Study or Series Instance UID is indexed under another Patient ID (0010,0020). */
  otherPatient?: boolean;
}

export interface ReindexReport {
  /** Files in the tree that were indexed. */
  indexed: number;
  /** Files indexed in place that the old index listed and that were read again. */
  inPlaceInstances: number;
  /**
   * Files indexed in place whose folder or disc is missing or cannot be read.
   * Their rows are copied from the old index unchanged.
   */
  unreachable: string[];
  /** The missing or unreadable folders of the `unreachable` files, without repeats. */
  unreachableFolders: string[];
  studies: number;
  series: number;
  patients: number;
  /** Files that were not indexed, with the reason. */
  skipped: ReindexProblem[];
  /** Files whose UIDs did not match their path, moved to the free layout path of their UIDs and indexed there. */
  moved: MovedFile[];
  /**
   * Folders and files in the archive folder that could not be read, such as
   * a folder of mode 000. The old index's rows of the files inside are kept
   * unchanged, so a wrong permission does not drop studies.
   */
  unreadable: UnreadableEntry[];
}

/** A file that reindex moved to the layout path <root>/<Study>/<Series>/<SOP>.dcm of its own UIDs. */
export interface MovedFile {
  from: string;
  to: string;
}

/** A folder or file of the archive folder that the file system refused to list or read. */
export interface UnreadableEntry {
  path: string;
  /** The error code (EACCES, EIO and the like) and what to do. */
  reason: string;
  /** True for a permission error (EACCES, EPERM). */
  permission: boolean;
  /** Rows of the old index at or below `path` that were kept unchanged. */
  keptInstances: number;
}

/** Arrival details stored only in the old index, carried over so rebuilt rows equal the old ones. */
interface ArrivalInfo {
  receivedAt: string;
  sourceAeTitle: string;
  path: string;
  inPlace: number;
  size: number;
  /** The indexed attributes, read for files indexed in place only, so their rows can be kept while the files are unreachable. */
  record?: InstanceRecord;
}

const SQLITE_SIDE_FILES = ['-wal', '-shm', '-journal'];

/**
 * Rebuilds `<root>/index.sqlite` from the files below `root`, skipping dot
 * folders. Files the old index listed as indexed in place are read again
 * when they can be reached. Their rows are kept as they were when the file's
 * folder is missing or empty (an ejected disc or unmounted share) or cannot
 * be read, and dropped when the folder is there but the file is not.
 * Arrival times and source AE titles are carried over from the old index
 * when it can be read.
 *
 * No LocalArchive may have the index open meanwhile: LocalArchive.reindex()
 * closes it first. NOTE: another process holding the index open is not detected.
 */
export async function reindexArchive(root: string, options: ReindexOptions = {}): Promise<ReindexReport> {
  const logger = options.logger ?? createLogger('loader.archive');
  const archiveRoot = path.resolve(root);
  const livePath = indexPath(archiveRoot);
  const buildPath = `${livePath}.rebuild`;
  const batchSize = Math.max(1, options.batchSize ?? 500);
  const dropUnreachable = options.dropUnreachable ?? false;
  const legacyCharacterSet = options.legacyCharacterSet ?? DEFAULT_LEGACY_CHARACTER_SET;

  // Another process would keep writing into the replaced index file, so its rows would be lost.
  const releaseUse = markArchiveUse(archiveRoot, 'reindex');
  try {
    const reindexing = otherArchiveUsers(archiveRoot, 'reindex');
    if (reindexing.length > 0) {
      throw new ArchiveError(
        'in-use',
        `The archive ${archiveRoot} is being reindexed by process ${reindexing.join(', ')}; wait until that loader reindex finishes`,
      );
    }
    const users = otherArchiveUserDetails(archiveRoot, 'open');
    if (users.length > 0) {
      const stop = users.length === 1 ? 'Stop it' : 'Stop them';
      throw new ArchiveError('in-use', `The archive ${archiveRoot} is open in ${describeArchiveUsers(users)}. ${stop}, then run loader reindex again.`);
    }
    return await rebuildIndex(archiveRoot, livePath, buildPath, batchSize, dropUnreachable, legacyCharacterSet, logger);
  } finally {
    releaseUse();
  }
}

async function rebuildIndex(
  archiveRoot: string,
  livePath: string,
  buildPath: string,
  batchSize: number,
  dropUnreachable: boolean,
  legacyCharacterSet: LegacyCharacterSet,
  logger: Logger,
): Promise<ReindexReport> {
  logger.info('Reindex started', { root: archiveRoot });

  const arrivals = readArrivalInfo(livePath, logger);
  // NOTE: an old index that cannot be read lists no UID, so an interrupted deletion is finished even where its index transaction never committed.
  finishInterruptedDeletions(archiveRoot, (sopInstanceUid) => arrivals.has(sopInstanceUid), logger);
  removeDatabaseFiles(buildPath);
  const db = openIndexDatabase(buildPath, { journalMode: 'DELETE' });
  const skipped: ReindexProblem[] = [];
  const unreachable: string[] = [];
  const unreachableFolders = new Set<string>();
  const movedFiles: MovedFile[] = [];
  /** Layout paths of moved files, which the walk may still reach and must not index twice. */
  const movedTargets = new Set<string>();
  const unreadableEntries: UnreadableEntry[] = [];
  let instances = 0;
  let inPlaceInstances = 0;

  try {
    const catalog = new ArchiveCatalog(db, archiveRoot, logger);
    const walker = new FileWalker([archiveRoot], {
      skipName: (name, isDirectory) => isInternalName(name) || (!isDirectory && name.startsWith(INDEX_FILE)),
    });

    const addRow = (record: InstanceRecord, file: string, inPlace: boolean, size: number): boolean => {
      const sopInstanceUid = record.instance.sopInstanceUid;
      const earlier = catalog.findInstance(sopInstanceUid);
      if (earlier) {
        skipped.push({ kind: 'duplicate', path: file, reason: `SOP Instance UID ${sopInstanceUid} is already indexed from ${earlier.path}` });
        return false;
      }
      const arrival = arrivals.get(sopInstanceUid);
      try {
        catalog.addInstance(
          record,
          { path: file, inPlace, size, receivedAt: arrival?.receivedAt ?? new Date().toISOString(), sourceAeTitle: arrival?.sourceAeTitle ?? '' },
          file,
          // A series already indexed under another study, or a study or series of another Patient ID, is reported as a problem instead of merged.
          { rejectConflicts: true },
        );
        return true;
      } catch (error) {
        const problem: ReindexProblem = { kind: error instanceof IndexConflictError ? 'conflict' : 'unreadable', path: file, reason: reasonWithoutPath(error, file) };
        if (error instanceof OtherPatientError) problem.otherPatient = true;
        skipped.push(problem);
        return false;
      }
    };

    const indexFile = (file: string): boolean => {
      // The walk follows symbolic links to files, so one lstat per file finds them.
      if (isSymbolicLinkSync(file)) {
        const failure = replaceLinkWithCopy(archiveRoot, file, logger);
        if (failure !== undefined) {
          skipped.push({ kind: 'unreadable', path: file, reason: failure });
          return false;
        }
      }
      const read = readRecord(file, legacyCharacterSet, logger);
      if ('error' in read) {
        const code = errorCode(read.error);
        if (isFileSystemError(read.error) && code !== 'ENOENT' && code !== 'ENOTDIR') unreadableEntries.push(unreadableEntry(file, code ?? 'EIO', false));
        else skipped.push({ kind: 'unreadable', path: file, reason: reasonWithoutPath(read.error, file) });
        return false;
      }
      const layoutPath = layoutPathOf(archiveRoot, read.record);
      if (layoutPath === undefined || layoutPath === file) return addRow(read.record, file, false, read.size);

      // A misplaced file of another Patient ID goes to .conflicts, never into the folder of the study that the index keeps for its patient.
      const otherPatient = catalog.findOtherPatient(read.record);
      if (otherPatient) {
        const conflictPath = moveAsideOtherPatient(archiveRoot, file, read.record, otherPatient, logger);
        skipped.push({
          kind: 'conflict',
          otherPatient: true,
          path: file,
          reason: `${describeOtherPatient(otherPatient)}; the file was moved to ${conflictPath} and not indexed`,
        });
        return false;
      }

      // A file whose UIDs belong elsewhere would be found by queries at a path that another instance's store
      // then takes, so it moves to its own layout path, or aside when that path contains a file.
      const placed = moveToLayoutPath(archiveRoot, file, layoutPath, read.record, logger);
      if (placed.movedTo === undefined) {
        skipped.push({ kind: 'misplaced', path: file, reason: placed.reason });
        return false;
      }
      movedTargets.add(placed.movedTo);
      if (addRow(read.record, placed.movedTo, false, read.size)) {
        movedFiles.push({ from: file, to: placed.movedTo });
        return true;
      }
      // addRow listed why the moved file is not indexed; the entry names the original path and where the file is now.
      const problem = skipped[skipped.length - 1];
      problem.reason = `${problem.reason}; the file was moved to ${placed.movedTo}, the layout path of its UIDs, and not indexed`;
      return false;
    };

    const keepUnreachable = (arrival: ArrivalInfo, folder: string): void => {
      if (dropUnreachable) {
        skipped.push({ kind: 'dropped', path: arrival.path, reason: `The file is not reachable in ${folder}, and --drop-unreachable drops its row` });
        return;
      }
      if (!arrival.record || !addRow(arrival.record, arrival.path, true, arrival.size)) return;
      unreachable.push(arrival.path);
      unreachableFolders.add(folder);
    };

    let inBatch = 0;
    db.exec('BEGIN');
    for (const files of filesByStudyFolder(walker, archiveRoot)) {
      for (const file of files) {
        if (movedTargets.has(file)) continue;
        if (indexFile(file)) instances++;
        if (++inBatch >= batchSize) {
          db.exec('COMMIT');
          db.exec('BEGIN');
          inBatch = 0;
        }
      }
    }

    for (const problem of walker.problems) {
      if (problem.code === undefined || problem.code === 'ENOENT' || problem.code === 'ENOTDIR') {
        skipped.push({ kind: 'unreadable', path: problem.path, reason: problem.reason });
      } else {
        unreadableEntries.push(unreadableEntry(problem.path, problem.code, problem.isFolder === true));
      }
    }
    // A folder that cannot be listed keeps the rows of its files, as an unreachable disc keeps those indexed in place.
    for (const entry of unreadableEntries) {
      for (const row of readOldRowsAt(archiveRoot, livePath, entry.path, logger)) {
        if (addRow(recordOf(row), row.path, false, row.size)) entry.keptInstances++;
      }
      logger.warn('Reindex kept the old rows of an archive folder or file that cannot be read', {
        path: entry.path,
        reason: entry.reason,
        keptInstances: entry.keptInstances,
      });
    }

    // Files indexed in place come after every file of the archive folder, in
    // the old index's row order, so a layout file of the same study keeps it.
    for (const [sopInstanceUid, arrival] of arrivals) {
      if (arrival.inPlace !== 1) continue;
      const location = locateInPlaceFile(arrival.path);
      if (location.state === 'unreachable') {
        keepUnreachable(arrival, location.folder);
        continue;
      }
      if (location.state === 'deleted') {
        skipped.push({ kind: 'removed', path: arrival.path, reason: `The file was deleted from ${location.folder}, which is still there` });
        continue;
      }

      const read = readRecord(arrival.path, legacyCharacterSet, logger);
      if ('error' in read && isFileSystemError(read.error)) {
        // A damaged disc or a lost permission can cause this, and the file may read again later.
        keepUnreachable(arrival, path.dirname(arrival.path));
        continue;
      }
      if ('error' in read) {
        skipped.push({ kind: 'removed', path: arrival.path, reason: `The file no longer contains SOP Instance UID ${sopInstanceUid}: ${reasonWithoutPath(read.error, arrival.path)}` });
        continue;
      }
      const found = read.record.instance.sopInstanceUid;
      if (found !== sopInstanceUid) {
        skipped.push({ kind: 'removed', path: arrival.path, reason: `The file now contains SOP Instance UID ${found} instead of ${sopInstanceUid}` });
      }
      if (addRow(read.record, arrival.path, true, read.size)) inPlaceInstances++;
    }
    db.exec('COMMIT');
    for (const link of walker.skippedLinks) logger.warn('Reindex did not follow a symbolic link', { path: link.path, reason: link.reason });

    const counts = db
      .prepare(`SELECT (SELECT COUNT(*) FROM studies) AS studies, (SELECT COUNT(*) FROM series) AS series,
        (SELECT COUNT(*) FROM patients) AS patients`)
      .get() as { studies: number; series: number; patients: number };
    db.close();

    // The old index's WAL and shared-memory files must go before the swap,
    // because SQLite would replay a stale WAL into the new database.
    for (const suffix of SQLITE_SIDE_FILES) fs.rmSync(livePath + suffix, { force: true });
    fs.renameSync(buildPath, livePath);
    fsyncDirectorySync(archiveRoot);

    const report: ReindexReport = {
      indexed: instances,
      inPlaceInstances,
      unreachable,
      unreachableFolders: [...unreachableFolders],
      ...counts,
      skipped,
      moved: movedFiles,
      unreadable: unreadableEntries,
    };
    logger.info('Reindex finished', {
      root: archiveRoot,
      instances,
      inPlaceInstances,
      unreachable: unreachable.length,
      studies: counts.studies,
      skipped: skipped.length,
    });
    if (unreachable.length > 0) {
      logger.warn('Reindex kept instances indexed in place whose files are not reachable', { count: unreachable.length, folders: report.unreachableFolders.join(', ') });
    }
    // A misplaced file was logged with its UIDs when it was moved aside.
    for (const problem of skipped) {
      if (problem.kind !== 'misplaced') logger.warn('Reindex skipped a file', { path: problem.path, kind: problem.kind, error: problem.reason });
    }
    return report;
  } catch (error) {
    if (db.open) db.close();
    removeDatabaseFiles(buildPath);
    logger.error('Reindex failed; the old index is unchanged', { root: archiveRoot, error: describeError(error) });
    throw error;
  }
}

/**
 * Yields the walk's files one top folder of `root` (a study folder,
 * <root>/<StudyInstanceUID>/) at a time, sorted oldest modification time
 * first, then by path. The first file indexed keeps the study, so the patient
 * whose instance was received first keeps it, as at receive time, and not the
 * file whose name sorts first. A file directly in `root` is a group of its
 * own. The walk is depth first, so memory holds one folder's file list.
 */
function* filesByStudyFolder(walker: FileWalker, root: string): Generator<string[]> {
  let folder: string | undefined;
  let files: { path: string; modified: number }[] = [];
  for (let file = walker.next(); file !== undefined; file = walker.next()) {
    const top = path.relative(root, file).split(path.sep)[0];
    if (top !== folder && files.length > 0) {
      yield sortByModification(files);
      files = [];
    }
    folder = top;
    files.push({ path: file, modified: modificationTime(file) });
  }
  if (files.length > 0) yield sortByModification(files);
}

function sortByModification(files: { path: string; modified: number }[]): string[] {
  files.sort((a, b) => {
    if (a.modified !== b.modified) return a.modified < b.modified ? -1 : 1;
    if (a.path === b.path) return 0;
    return a.path < b.path ? -1 : 1;
  });
  return files.map((file) => file.path);
}

/** Returns the file's modification time in milliseconds, or Infinity when stat fails, so the read that reports the error comes last. */
function modificationTime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function readRecord(file: string, legacyCharacterSet: LegacyCharacterSet, logger: Logger): { record: InstanceRecord; size: number } | { error: unknown } {
  try {
    const header = readDicomFileHeaderSync(file);
    warnFileMetaElementsInDataset(logger, header, { path: file });
    return { record: readInstanceRecord(header, legacyCharacterSet), size: header.fileSize };
  } catch (error) {
    return { error };
  }
}

/** Returns the error's message without the leading path, because the report prints the path next to the reason. */
function reasonWithoutPath(error: unknown, file: string): string {
  const reason = describeError(error);
  return reason.startsWith(`${file}: `) ? reason.slice(file.length + 2) : reason;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Describes a folder or file of the archive folder that the file system
 * refused, with a remedy that fits reindex. Moving the folder out, as for a
 * damaged file, would drop its studies.
 */
function unreadableEntry(entry: string, code: string, isFolder: boolean): UnreadableEntry {
  const kind = isFolder ? 'folder' : 'file';
  const permission = code === 'EACCES' || code === 'EPERM';
  const reason = permission
    ? `permission denied (${code}): the user running loader reindex may not ${isFolder ? 'list this folder' : 'read this file'}`
    : `the ${kind} could not be read (${code})`;
  return { path: entry, reason, permission, keptInstances: 0 };
}

/** Returns the layout path <root>/<Study>/<Series>/<SOP>.dcm of the record's UIDs, or undefined when a UID is invalid (addRow reports that). */
function layoutPathOf(root: string, record: InstanceRecord): string | undefined {
  try {
    return path.join(root, relativeInstancePath(uidsOf(record)));
  } catch {
    return undefined;
  }
}

/**
 * Moves `file`, whose UIDs belong at `layoutPath`, to that path when it is
 * free, and to .conflicts otherwise. Logs one warning with both paths and the
 * UIDs. Returns the new layout path, or the reason the file was moved aside.
 */
function moveToLayoutPath(root: string, file: string, layoutPath: string, record: InstanceRecord, logger: Logger): { movedTo?: string; reason: string } {
  const uids = uidsOf(record);
  fs.mkdirSync(path.dirname(layoutPath), { recursive: true, mode: FOLDER_MODE });
  if (linkNoReplaceSync(file, layoutPath, { keepSource: false }) !== 'exists') {
    fsyncDirectorySync(path.dirname(layoutPath));
    fsyncDirectorySync(path.dirname(file));
    logger.warn('Reindex moved a file whose UIDs do not match its path to the layout path of its UIDs', { path: file, layoutPath, ...uids });
    return { movedTo: layoutPath, reason: '' };
  }
  const conflictPath = keepConflictSync(root, file, uids.sopInstanceUid);
  fsyncDirectorySync(path.dirname(conflictPath));
  fsyncDirectorySync(path.dirname(file));
  logger.warn('Reindex moved a file whose UIDs do not match its path to .conflicts, because the layout path of its UIDs contains another file', {
    path: file,
    layoutPath,
    conflictPath,
    ...uids,
  });
  return { reason: `its UIDs belong at ${layoutPath}, which contains another file, so it was moved to ${conflictPath} and not indexed` };
}

/**
 * Replaces the symbolic link `link` in the archive folder with a copy of the
 * file it leads to, because the archive keeps each instance as a regular file
 * of its own: a C-STORE and a retrieve take no link as a stored copy (see
 * findIndexedFile in placement.ts). The copy is written to .incoming and
 * renamed over the link, so a failed copy leaves the link as it was. Returns
 * the reason when the copy failed.
 *
 * NOTE: a link to a misplaced file of the archive folder that the walk moves
 * first is broken by that move, and is then listed as unreadable.
 */
function replaceLinkWithCopy(archiveRoot: string, link: string, logger: Logger): string | undefined {
  const target = readLinkTarget(link);
  const copyPath = temporaryPath(archiveRoot);
  try {
    fs.mkdirSync(path.dirname(copyPath), { recursive: true, mode: FOLDER_MODE });
    fs.copyFileSync(link, copyPath, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(copyPath, FILE_MODE);
    fsyncFileSync(copyPath);
    fs.renameSync(copyPath, link);
    fsyncDirectorySync(path.dirname(link));
  } catch (error) {
    fs.rmSync(copyPath, { force: true });
    logger.warn('Reindex failed to replace a symbolic link in the archive folder with a copy of its file', { path: link, target, error: describeError(error) });
    return `symbolic link to ${target}, which could not be replaced with a copy of that file (${describeError(error)}); copy the file to this path and run loader reindex again`;
  }
  logger.warn('Reindex replaced a symbolic link in the archive folder with a copy of the file it leads to', { path: link, target });
  return undefined;
}

/**
 * Moves `file`, a misplaced file whose Study or Series Instance UID the new
 * index lists under another Patient ID (`conflict`), to .conflicts and logs
 * one warning with both Patient IDs. Returns the path in .conflicts.
 */
function moveAsideOtherPatient(root: string, file: string, record: InstanceRecord, conflict: OtherPatientConflict, logger: Logger): string {
  const conflictPath = keepConflictSync(root, file, record.instance.sopInstanceUid);
  fsyncDirectorySync(path.dirname(conflictPath));
  fsyncDirectorySync(path.dirname(file));
  logger.warn('Reindex moved a file of another Patient ID whose UIDs do not match its path to .conflicts', {
    path: file,
    conflictPath,
    sopInstanceUid: record.instance.sopInstanceUid,
    ...otherPatientFields(conflict),
  });
  return conflictPath;
}

/** Returns true for errors of a file system call (EIO, EACCES and the like), as opposed to errors about the file's content. */
function isFileSystemError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

type InPlaceLocation = { state: 'present' } | { state: 'unreachable'; folder: string } | { state: 'deleted'; folder: string };

/**
 * Tells an unreachable file indexed in place from a deleted one. The file is
 * unreachable when its folder is missing (the highest missing folder is
 * returned), empty (the mount point of an ejected disc) or cannot be read.
 * It is deleted when its folder is there with other entries.
 */
function locateInPlaceFile(file: string): InPlaceLocation {
  try {
    fs.statSync(file);
    return { state: 'present' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return { state: 'unreachable', folder: path.dirname(file) };
  }

  let folder = path.dirname(file);
  let missing: string | undefined;
  while (!fs.existsSync(folder) && path.dirname(folder) !== folder) {
    missing = folder;
    folder = path.dirname(folder);
  }
  if (missing !== undefined) return { state: 'unreachable', folder: missing };
  try {
    if (fs.readdirSync(folder).length === 0) return { state: 'unreachable', folder };
  } catch {
    return { state: 'unreachable', folder };
  }
  return { state: 'deleted', folder };
}

/** One instance row of the old index, joined with its series, study and patient. */
type OldIndexRow = PatientAttributes &
  StudyAttributes &
  SeriesAttributes &
  InstanceAttributes & { receivedAt: string; sourceAeTitle: string; path: string; inPlace: number; size: number };

/**
 * Returns the query of the old index's instance rows. Patient's Name, Birth
 * Date and Sex are the study's own values when the old index stores them
 * (schema version 2 and later), and the patient record's values before.
 */
function oldRowQuery(db: Database.Database): string {
  const studyColumns = (db.pragma('table_info(studies)') as Array<{ name: string }>).map((column) => column.name);
  const patientColumns = studyColumns.includes('patient_sex')
    ? 'st.patient_name AS patientName, st.patient_birth_date AS birthDate, st.patient_sex AS sex'
    : 'p.patient_name AS patientName, p.birth_date AS birthDate, p.sex';
  return `SELECT i.sop_instance_uid AS sopInstanceUid, i.received_at AS receivedAt, i.source_ae_title AS sourceAeTitle,
    i.path, i.in_place AS inPlace, i.size, i.sop_class_uid AS sopClassUid, i.instance_number AS instanceNumber,
    i.transfer_syntax_uid AS transferSyntaxUid, i.specific_character_set AS specificCharacterSet,
    p.patient_id AS patientId, p.issuer_of_patient_id AS issuerOfPatientId, ${patientColumns},
    st.study_instance_uid AS studyInstanceUid, st.study_date AS studyDate, st.study_time AS studyTime,
    st.study_description AS studyDescription, st.accession_number AS accessionNumber,
    st.referring_physician_name AS referringPhysicianName, st.study_id AS studyId,
    se.series_instance_uid AS seriesInstanceUid, se.modality, se.series_number AS seriesNumber,
    se.series_description AS seriesDescription, se.body_part_examined AS bodyPartExamined,
    se.series_date AS seriesDate, se.series_time AS seriesTime
  FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref
    JOIN patients p ON p.id = st.patient_ref`;
}

/**
 * Returns the old index's rows of files in the archive folder at `entry` or
 * below it, or none when the old index cannot be read.
 */
function readOldRowsAt(archiveRoot: string, livePath: string, entry: string, logger: Logger): OldIndexRow[] {
  if (!fs.existsSync(livePath)) return [];
  let db: Database.Database | undefined;
  try {
    db = new Database(livePath, { readonly: true, fileMustExist: true });
    // The index stores the paths of files in the archive folder relative to it (ArchiveCatalog.toStoredPath).
    const stored = path.relative(archiveRoot, entry);
    const prefix = stored + path.sep;
    // SQLite compares TEXT bytewise, so [prefix, end) contains exactly the paths that start with prefix.
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    const rows = db
      .prepare(`${oldRowQuery(db)} WHERE i.in_place = 0 AND (i.path = ? OR (i.path >= ? AND i.path < ?)) ORDER BY i.rowid`)
      .all(stored, prefix, end) as OldIndexRow[];
    return rows.map((row) => ({ ...row, path: path.resolve(archiveRoot, row.path) }));
  } catch (error) {
    logger.warn('Old index is unreadable; the rows of an unreadable archive folder are not kept', { path: livePath, folder: entry, error: describeError(error) });
    return [];
  } finally {
    db?.close();
  }
}

/**
 * Reads arrival details per SOP Instance UID from the old index, and the
 * indexed attributes of files indexed in place. An unreadable index yields none.
 */
function readArrivalInfo(livePath: string, logger: Logger): Map<string, ArrivalInfo> {
  const arrivals = new Map<string, ArrivalInfo>();
  if (!fs.existsSync(livePath)) return arrivals;
  let db: Database.Database | undefined;
  try {
    db = new Database(livePath, { readonly: true, fileMustExist: true });
    const rows = db
      .prepare(oldRowQuery(db))
      .all() as OldIndexRow[];
    for (const row of rows) {
      const { sopInstanceUid, receivedAt, sourceAeTitle, path: file, size } = row;
      // The index stores paths inside the archive folder relative to it. A file there that an older scan
      // indexed in place was read by the walk already, so its row is not read again as a file indexed in place.
      const inPlace = path.isAbsolute(file) ? row.inPlace : 0;
      arrivals.set(sopInstanceUid, { receivedAt, sourceAeTitle, path: file, inPlace, size, record: inPlace === 1 ? recordOf(row) : undefined });
    }
  } catch (error) {
    logger.warn('Old index is unreadable; arrival times and in-place files are not carried over', {
      path: livePath,
      error: describeError(error),
    });
  } finally {
    db?.close();
  }
  return arrivals;
}

function recordOf(row: OldIndexRow): InstanceRecord {
  return {
    patient: { patientId: row.patientId, issuerOfPatientId: row.issuerOfPatientId, patientName: row.patientName, birthDate: row.birthDate, sex: row.sex },
    study: {
      studyInstanceUid: row.studyInstanceUid,
      studyDate: row.studyDate,
      studyTime: row.studyTime,
      studyDescription: row.studyDescription,
      accessionNumber: row.accessionNumber,
      referringPhysicianName: row.referringPhysicianName,
      studyId: row.studyId,
    },
    series: {
      seriesInstanceUid: row.seriesInstanceUid,
      modality: row.modality,
      seriesNumber: row.seriesNumber,
      seriesDescription: row.seriesDescription,
      bodyPartExamined: row.bodyPartExamined,
      seriesDate: row.seriesDate,
      seriesTime: row.seriesTime,
    },
    instance: {
      sopInstanceUid: row.sopInstanceUid,
      sopClassUid: row.sopClassUid,
      instanceNumber: row.instanceNumber,
      transferSyntaxUid: row.transferSyntaxUid,
      specificCharacterSet: row.specificCharacterSet,
    },
  };
}

function removeDatabaseFiles(file: string): void {
  fs.rmSync(file, { force: true });
  for (const suffix of SQLITE_SIDE_FILES) fs.rmSync(file + suffix, { force: true });
}
