/**
 * Deletes studies and series from the archive (`loader delete`). A deletion
 * runs in four steps, so that a crash at any point leaves nothing that the
 * next open of the archive or `loader reindex` cannot finish:
 *
 * 1. A batch folder .trash/<pid>.<tag>.<n> gets manifest.json, which lists
 *    each archive file to delete with its SOP Instance UID and inode.
 * 2. One index transaction removes the rows of the listed instances, each
 *    only while it still names the listed file. A row that a store added
 *    after step 1 stays, and so does its study.
 * 3. Each listed file is renamed into the batch folder (the same file
 *    system), and so are the copies kept aside in .conflicts for the deleted
 *    UIDs. Series and study folders left empty are removed.
 * 4. The batch folder is removed, which frees the space.
 *
 * finishInterruptedDeletions handles the batch of a stopped process. A listed
 * file whose SOP Instance UID is not indexed moves into the batch, when the
 * file at its path is still the listed inode. A file whose UID is indexed
 * stays: the transaction of step 2 never committed, or a store indexed the
 * instance again afterwards. Then the batch folder is removed.
 *
 * A `loader serve` may store into a study while it is deleted. After step 2,
 * its store of a listed SOP Instance UID finds no row, and it may move the
 * listed file to .conflicts and link the received file in its place
 * (placement.ts). Step 3 therefore compares the inode of each file it renamed
 * with the manifest and puts a file with another inode back.
 *
 * Rows of files indexed in place (outside the archive folder) are removed,
 * and the files stay where they are.
 *
 * Steps 1 and 2 need free space, for the manifest and the index's
 * write-ahead log. When less than SPACE_RESERVE_BYTES are free, the deletion
 * first removes the archive's space reserve (space-reserve.ts), and it
 * creates the reserve again at the end where there is room. A deletion that
 * still finds the disk full raises ReadOnlyArchiveError with the free space,
 * and changes nothing.
 */

import fs from 'node:fs';
import path from 'node:path';
import { readDicomFileHeader } from '../../dicom/file-reader';
import { Tags } from '../../dicom/tags';
import type { Logger } from '../logger';
import { PROCESS_TAG, isRunningProcess } from './archive-users';
import type { ArchiveCatalog, StudySummary } from './catalog';
import type { ArchiveDurability } from './durability';
import { describeError } from './errors';
import { fsyncDirectorySync, fsyncFileSync, linkNoReplaceSync } from './file-ops';
import { FILE_MODE, FOLDER_MODE, conflictFileUid, conflictsFolder, indexPath, trashFolder } from './layout';
import { keepConflictSync } from './placement';
import { describeFullFileSystem, diskFullReason, ReadOnlyArchiveError } from './read-only';
import { isIndexDiskFull } from './storage-errors';
import { ensureSpaceReserve, freeBytesOf, releaseSpaceReserve, SPACE_RESERVE_BYTES } from './space-reserve';

/** The studies and series to delete, by UID. */
export interface DeletionSelection {
  studyInstanceUids?: readonly string[];
  seriesInstanceUids?: readonly string[];
}

export interface SeriesToDelete {
  seriesInstanceUid: string;
  modality: string;
  seriesNumber: number | null;
  seriesDescription: string;
  instances: number;
}

export interface StudyToDelete {
  study: StudySummary;
  /** True when the whole study is deleted, false when only the listed series are. */
  wholeStudy: boolean;
  /** The series to delete: every series of a whole study. */
  series: SeriesToDelete[];
  instances: number;
  /** Bytes of the files in the archive folder; files indexed in place are not counted. */
  bytes: number;
  /** Instances indexed in place, whose rows are removed and whose files stay. */
  inPlaceInstances: number;
}

/** A copy in .conflicts of a SOP Instance UID, or of a study or series, that is deleted. */
export interface KeptCopy {
  path: string;
  size: number;
}

/** The studies, series and kept copies that deleteFromArchive would delete now, for a preview and its confirmation. */
export interface DeletionPlan {
  studies: StudyToDelete[];
  /** Given Study Instance UIDs that the index does not list. */
  missingStudyInstanceUids: string[];
  /** Given Series Instance UIDs that the index does not list. */
  missingSeriesInstanceUids: string[];
  instances: number;
  bytes: number;
  inPlaceInstances: number;
  keptCopies: KeptCopy[];
}

export interface DeletedStudy {
  studyInstanceUid: string;
  wholeStudy: boolean;
  seriesInstanceUids: string[];
  /** Index rows removed. */
  instances: number;
  /** Bytes of the archive files removed. */
  bytes: number;
  /** Instances the index lists under the study after the deletion: stores that arrived during it. */
  remainingInstances: number;
}

/** A file that could not be moved or removed; its batch stays in .trash, and the next open of the archive tries again. */
export interface DeletionFailure {
  path: string;
  error: string;
}

export interface DeletionReport {
  studies: DeletedStudy[];
  /** Index rows removed. */
  instances: number;
  /** Archive files removed. */
  files: number;
  /** Bytes of the archive files and kept copies removed. */
  bytes: number;
  /** Rows removed of files indexed in place, which stay where they are. */
  inPlaceInstances: number;
  /** Copies removed from .conflicts. */
  keptCopies: number;
  keptCopyBytes: number;
  failures: DeletionFailure[];
}

export interface DeletionContext {
  root: string;
  catalog: ArchiveCatalog;
  logger: Logger;
  durability: ArchiveDurability;
}

/** One row of an instance to delete. */
interface SelectedRow {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  /** Absolute path. */
  path: string;
  inPlace: boolean;
  size: number;
}

/** One file of manifest.json: its path relative to the archive root and its inode, as decimal strings. */
interface ManifestEntry {
  sopInstanceUid: string;
  path: string;
  dev: string;
  ino: string;
}

const MANIFEST_FILE = 'manifest.json';
const BATCH_NAME = /^(?<pid>\d+)\.(?<tag>[0-9a-f]{12})\.\d+$/;
let batchCount = 0;

/** Returns what a deletion of `selection` would delete now; see DeletionPlan. */
export async function planDeletion(context: DeletionContext, selection: DeletionSelection): Promise<DeletionPlan> {
  const studyUids = unique(selection.studyInstanceUids);
  const seriesUids = unique(selection.seriesInstanceUids);
  const rows = selectRows(context, studyUids, seriesUids);
  const seriesRows = selectSeries(context.catalog, studyUids, seriesUids);
  const summaries = context.catalog.summarizeStudies(new Set(seriesRows.map((series) => series.studyInstanceUid)));

  const studies = summaries.map((summary): StudyToDelete => {
    const series = seriesRows.filter((row) => row.studyInstanceUid === summary.studyInstanceUid);
    const studyRows = rows.filter((row) => row.studyInstanceUid === summary.studyInstanceUid);
    return {
      study: summary,
      wholeStudy: studyUids.includes(summary.studyInstanceUid) || series.length === summary.numberOfSeries,
      series: series.map(({ studyInstanceUid: _study, ...rest }) => rest),
      instances: studyRows.length,
      bytes: sum(studyRows.filter((row) => !row.inPlace).map((row) => row.size)),
      inPlaceInstances: studyRows.filter((row) => row.inPlace).length,
    };
  });
  const foundSeries = new Set(seriesRows.map((series) => series.seriesInstanceUid));
  const keptCopies = await findKeptCopies(context, deletedUidsOf(rows, studies));
  return {
    studies,
    missingStudyInstanceUids: studyUids.filter((uid) => !summaries.some((summary) => summary.studyInstanceUid === uid)),
    missingSeriesInstanceUids: seriesUids.filter((uid) => !foundSeries.has(uid)),
    instances: rows.length,
    bytes: sum(studies.map((study) => study.bytes)),
    inPlaceInstances: sum(studies.map((study) => study.inPlaceInstances)),
    keptCopies,
  };
}

/**
 * Deletes the studies and series of `plan` as they are indexed now, in the
 * steps of the file comment. A whole study of the plan is deleted by its
 * Study Instance UID, so its series that arrived after the plan go too.
 *
 * @throws ReadOnlyArchiveError when the disk is too full for the manifest or
 *   the index transaction; nothing is deleted then.
 */
export async function deleteFromArchive(context: DeletionContext, plan: DeletionPlan): Promise<DeletionReport> {
  const { root, logger } = context;
  const free = freeBytesOf(root);
  if (free !== undefined && free < SPACE_RESERVE_BYTES) releaseSpaceReserve(root, logger);
  try {
    return await deleteWithSpace(context, plan);
  } finally {
    ensureSpaceReserve(root, logger);
  }
}

async function deleteWithSpace(context: DeletionContext, plan: DeletionPlan): Promise<DeletionReport> {
  const { root, catalog, logger } = context;
  const studyUids = plan.studies.filter((study) => study.wholeStudy).map((study) => study.study.studyInstanceUid);
  const seriesUids = plan.studies.filter((study) => !study.wholeStudy).flatMap((study) => study.series.map((series) => series.seriesInstanceUid));
  const rows = selectRows(context, studyUids, seriesUids);

  const manifest: ManifestEntry[] = [];
  for (const row of rows) {
    if (row.inPlace) continue;
    const identity = fileIdentity(row.path);
    if (identity !== undefined) manifest.push({ sopInstanceUid: row.sopInstanceUid, path: path.relative(root, row.path), ...identity });
  }
  const batch = createBatch(context, manifest);

  let removed: Set<string>;
  try {
    removed = removeRows(catalog, rows);
  } catch (error) {
    // The transaction rolled back, so no file goes, and the batch would only wait for the next open.
    fs.rmSync(batch, { recursive: true, force: true });
    throw diskFullError(root, error);
  }
  const report: DeletionReport = { studies: [], instances: removed.size, files: 0, bytes: 0, inPlaceInstances: 0, keptCopies: 0, keptCopyBytes: 0, failures: [] };
  const removedBytes = new Map<string, number>();
  const studyOf = new Map(rows.map((row) => [row.sopInstanceUid, row.studyInstanceUid]));
  for (const entry of manifest) {
    if (!removed.has(entry.sopInstanceUid)) continue;
    const file = path.join(root, entry.path);
    try {
      const size = moveIntoBatch(root, file, batch, entry, logger);
      if (size === undefined) continue;
      report.files++;
      report.bytes += size;
      const study = studyOf.get(entry.sopInstanceUid)!;
      removedBytes.set(study, (removedBytes.get(study) ?? 0) + size);
    } catch (error) {
      report.failures.push({ path: file, error: describeError(error) });
    }
  }
  removeEmptyFolders(root, manifest.map((entry) => path.join(root, entry.path)));

  const removedRows = rows.filter((row) => removed.has(row.sopInstanceUid));
  report.inPlaceInstances = removedRows.filter((row) => row.inPlace).length;
  const kept = await findKeptCopies(context, deletedUidsOf(removedRows, plan.studies));
  for (const copy of kept) {
    try {
      fs.renameSync(copy.path, path.join(batch, `kept.${path.basename(copy.path)}`));
      report.keptCopies++;
      report.keptCopyBytes += copy.size;
      report.bytes += copy.size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') report.failures.push({ path: copy.path, error: describeError(error) });
    }
  }

  emptyBatch(batch, report.failures.length === 0, logger);
  report.studies = summarizeDeleted(catalog, plan, removedRows, removedBytes);
  for (const study of report.studies) {
    logger.info(study.wholeStudy ? 'Deleted study' : 'Deleted series', {
      studyInstanceUid: study.studyInstanceUid,
      ...(study.wholeStudy ? {} : { seriesInstanceUids: study.seriesInstanceUids.join(',') }),
      instances: study.instances,
      bytes: study.bytes,
      remainingInstances: study.remainingInstances,
    });
  }
  if (report.keptCopies > 0) logger.info('Removed copies kept aside for the deleted UIDs', { count: report.keptCopies, bytes: report.keptCopyBytes });
  for (const failure of report.failures) {
    logger.error('Failed to remove a file of a deletion; the next open of the archive tries again', { path: failure.path, error: failure.error });
  }
  return report;
}

/**
 * Finishes the deletions in .trash of processes that stopped, as the file
 * comment describes. `isIndexed` returns true when the index lists a SOP
 * Instance UID. Returns the number of batches finished. Failures are logged,
 * and the batch stays for the next try.
 */
export function finishInterruptedDeletions(root: string, isIndexed: (sopInstanceUid: string) => boolean, logger: Logger): number {
  let names: string[];
  try {
    names = fs.readdirSync(trashFolder(root));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }

  let finished = 0;
  for (const name of names) {
    const owner = BATCH_NAME.exec(name)?.groups;
    if (owner !== undefined && isRunningProcess(Number(owner.pid), owner.tag)) continue;
    const batch = path.join(trashFolder(root), name);
    try {
      const manifest = readManifest(batch);
      let moved = 0;
      for (const entry of manifest) {
        if (isIndexed(entry.sopInstanceUid)) continue;
        if (moveIntoBatch(root, path.join(root, entry.path), batch, entry, logger) !== undefined) moved++;
      }
      removeEmptyFolders(root, manifest.map((entry) => path.join(root, entry.path)));
      fs.rmSync(batch, { recursive: true, force: true });
      finished++;
      logger.warn('Finished a deletion that a stopped process interrupted', { batch, listedFiles: manifest.length, movedFiles: moved });
    } catch (error) {
      logger.error('Failed to finish a deletion that a stopped process interrupted; the next open of the archive tries again', {
        batch,
        error: describeError(error),
      });
    }
  }
  return finished;
}

function selectRows(context: DeletionContext, studyUids: readonly string[], seriesUids: readonly string[]): SelectedRow[] {
  const rows = context.catalog.db
    .prepare(`
      SELECT i.sop_instance_uid AS sopInstanceUid, se.series_instance_uid AS seriesInstanceUid,
        st.study_instance_uid AS studyInstanceUid, i.path AS path, i.in_place AS inPlace, i.size AS size
      FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref
      WHERE st.study_instance_uid IN (SELECT value FROM json_each(?)) OR se.series_instance_uid IN (SELECT value FROM json_each(?))
      ORDER BY st.study_instance_uid, se.series_instance_uid, i.sop_instance_uid`)
    .all(JSON.stringify(studyUids), JSON.stringify(seriesUids)) as Array<Omit<SelectedRow, 'inPlace'> & { inPlace: number }>;
  return rows.map((row) => ({ ...row, path: path.isAbsolute(row.path) ? row.path : path.join(context.root, row.path), inPlace: row.inPlace === 1 }));
}

function selectSeries(catalog: ArchiveCatalog, studyUids: readonly string[], seriesUids: readonly string[]): Array<SeriesToDelete & { studyInstanceUid: string }> {
  return catalog.db
    .prepare(`
      SELECT se.series_instance_uid AS seriesInstanceUid, se.modality AS modality, se.series_number AS seriesNumber,
        se.series_description AS seriesDescription, se.instance_count AS instances, st.study_instance_uid AS studyInstanceUid
      FROM series se JOIN studies st ON st.id = se.study_ref
      WHERE st.study_instance_uid IN (SELECT value FROM json_each(?)) OR se.series_instance_uid IN (SELECT value FROM json_each(?))
      ORDER BY st.study_instance_uid, se.series_number, se.series_instance_uid`)
    .all(JSON.stringify(studyUids), JSON.stringify(seriesUids)) as Array<SeriesToDelete & { studyInstanceUid: string }>;
}

/**
 * Removes the rows of `rows` in one transaction, each only while the index
 * still lists it at the same path, and the study conflicts of studies that
 * are gone afterwards. Returns the SOP Instance UIDs removed.
 */
function removeRows(catalog: ArchiveCatalog, rows: readonly SelectedRow[]): Set<string> {
  const removed = new Set<string>();
  const removeConflicts = catalog.db.prepare(
    'DELETE FROM study_conflicts WHERE study_instance_uid = ? AND NOT EXISTS (SELECT 1 FROM studies WHERE study_instance_uid = ?)',
  );
  catalog.db
    .transaction(() => {
      for (const row of rows) {
        const indexed = catalog.findInstance(row.sopInstanceUid);
        if (indexed === undefined || indexed.path !== row.path || indexed.inPlace !== row.inPlace) continue;
        // Inside this transaction, removeInstance runs in a savepoint, so all rows commit together.
        catalog.removeInstance(row.sopInstanceUid);
        removed.add(row.sopInstanceUid);
      }
      for (const studyUid of new Set(rows.map((row) => row.studyInstanceUid))) removeConflicts.run(studyUid, studyUid);
    })
    .immediate();
  return removed;
}

/** Returns the device and inode of `file` itself (not of a link's target), or undefined when it is missing. */
function fileIdentity(file: string): { dev: string; ino: string } | undefined {
  try {
    const stat = fs.lstatSync(file, { bigint: true });
    return { dev: stat.dev.toString(), ino: stat.ino.toString() };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Creates a batch folder in .trash with the manifest of `entries`, flushed to disk in 'full' durability, and returns its path. */
function createBatch(context: DeletionContext, entries: readonly ManifestEntry[]): string {
  const trash = trashFolder(context.root);
  batchCount++;
  const batch = path.join(trash, `${process.pid}.${PROCESS_TAG}.${batchCount}`);
  try {
    fs.mkdirSync(trash, { recursive: true, mode: FOLDER_MODE });
    fs.mkdirSync(batch, { mode: FOLDER_MODE });
    // Written under another name and renamed, so a batch never has half a manifest.
    const partial = path.join(batch, `${MANIFEST_FILE}.part`);
    fs.writeFileSync(partial, JSON.stringify({ version: 1, entries }), { mode: FILE_MODE });
    if (context.durability === 'full') fsyncFileSync(partial);
    fs.renameSync(partial, path.join(batch, MANIFEST_FILE));
    if (context.durability === 'full') {
      fsyncDirectorySync(batch);
      fsyncDirectorySync(trash);
    }
  } catch (error) {
    // No row is removed yet, so the batch and its partial manifest can go at once.
    fs.rmSync(batch, { recursive: true, force: true });
    throw diskFullError(context.root, error);
  }
  return batch;
}

/** Returns ReadOnlyArchiveError for a full disk (ENOSPC, EDQUOT, SQLITE_FULL, see isIndexDiskFull), and `error` itself otherwise. */
function diskFullError(root: string, error: unknown): unknown {
  const reason = diskFullReason(error, root) ?? (isIndexDiskFull(error, indexPath(root)) ? describeFullFileSystem(root, 'space') : undefined);
  return reason === undefined ? error : new ReadOnlyArchiveError(root, reason, { cause: error, diskFull: true });
}

/** Returns the entries of a batch's manifest; a batch without one (its process stopped while writing it) has none. */
function readManifest(batch: string): ManifestEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(batch, MANIFEST_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw error;
  }
  const entries = (JSON.parse(text) as { entries?: unknown }).entries;
  if (!Array.isArray(entries)) throw new Error(`${path.join(batch, MANIFEST_FILE)} has no list of entries`);
  // Paths come from this file, so one that leaves the archive folder is skipped rather than followed.
  return (entries as ManifestEntry[]).filter((entry) => typeof entry.path === 'string' && !entry.path.startsWith('..') && !path.isAbsolute(entry.path));
}

/**
 * Renames `file` into `batch` and returns its size, or undefined when it is
 * missing or has another inode than `entry` lists. A file with another inode
 * was stored after the index transaction, so it is renamed back, or kept in
 * .conflicts when its path has meanwhile been taken again.
 */
function moveIntoBatch(root: string, file: string, batch: string, entry: ManifestEntry, logger: Logger): number | undefined {
  const target = path.join(batch, `${entry.sopInstanceUid}.dcm`);
  try {
    fs.renameSync(file, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
  const stat = fs.lstatSync(target, { bigint: true });
  if (stat.dev.toString() === entry.dev && stat.ino.toString() === entry.ino) return Number(stat.size);

  if (linkNoReplaceSync(target, file, { keepSource: false }) === 'exists') {
    const conflictPath = keepConflictSync(root, target, entry.sopInstanceUid);
    logger.warn('A file stored during a deletion lost its layout path to another store; kept it aside', {
      sopInstanceUid: entry.sopInstanceUid,
      path: file,
      conflictPath,
    });
  } else {
    logger.info('Left a file stored during a deletion in place', { sopInstanceUid: entry.sopInstanceUid, path: file });
  }
  return undefined;
}

/** Removes the series folders of `files` and then their study folders, where they are empty. */
function removeEmptyFolders(root: string, files: readonly string[]): void {
  const seriesFolders = new Set(files.map((file) => path.dirname(file)));
  const studyFolders = new Set([...seriesFolders].map((folder) => path.dirname(folder)));
  for (const folder of [...seriesFolders, ...studyFolders]) {
    const relative = path.relative(root, folder);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) continue;
    try {
      fs.rmdirSync(folder);
    } catch {
      // Not empty, because the folder has other instances or a store placed one meanwhile, or already gone.
    }
  }
}

/**
 * Removes the batch folder when every file was moved. Otherwise it removes the
 * moved files and keeps the manifest, so that the next open of the archive
 * moves the files that failed.
 */
function emptyBatch(batch: string, complete: boolean, logger: Logger): void {
  try {
    if (complete) {
      fs.rmSync(batch, { recursive: true, force: true });
      return;
    }
    for (const name of fs.readdirSync(batch)) {
      if (name !== MANIFEST_FILE) fs.rmSync(path.join(batch, name), { recursive: true, force: true });
    }
  } catch (error) {
    logger.error('Failed to remove the files of a deletion from .trash; the next open of the archive tries again', { batch, error: describeError(error) });
  }
}

/** UIDs whose copies in .conflicts are deleted: the SOP Instance UIDs of the rows, and the deleted whole studies and series. */
interface DeletedUids {
  sopInstanceUids: Set<string>;
  studyInstanceUids: Set<string>;
  seriesInstanceUids: Set<string>;
}

function deletedUidsOf(rows: readonly SelectedRow[], studies: readonly StudyToDelete[]): DeletedUids {
  return {
    sopInstanceUids: new Set(rows.map((row) => row.sopInstanceUid)),
    studyInstanceUids: new Set(studies.filter((study) => study.wholeStudy).map((study) => study.study.studyInstanceUid)),
    seriesInstanceUids: new Set(studies.flatMap((study) => study.series.map((series) => series.seriesInstanceUid))),
  };
}

/**
 * Returns the copies in .conflicts whose SOP Instance UID, Study Instance UID
 * or Series Instance UID is deleted. The name gives the SOP Instance UID. The
 * header of every other copy is read for its study and series, because a copy
 * kept aside for its Study Instance UID may have a SOP Instance UID that the
 * index never listed. Copies that cannot be read stay.
 */
async function findKeptCopies(context: DeletionContext, deleted: DeletedUids): Promise<KeptCopy[]> {
  if (deleted.sopInstanceUids.size === 0 && deleted.studyInstanceUids.size === 0 && deleted.seriesInstanceUids.size === 0) return [];
  const folder = conflictsFolder(context.root);
  let names: string[];
  try {
    names = fs.readdirSync(folder).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }

  const copies: KeptCopy[] = [];
  for (const name of names) {
    const uid = conflictFileUid(name);
    if (uid === undefined) continue;
    const file = path.join(folder, name);
    try {
      if (!deleted.sopInstanceUids.has(uid)) {
        const { dataset } = await readDicomFileHeader(file);
        const study = dataset.getString(Tags.StudyInstanceUID)?.trim() ?? '';
        const series = dataset.getString(Tags.SeriesInstanceUID)?.trim() ?? '';
        if (!deleted.studyInstanceUids.has(study) && !deleted.seriesInstanceUids.has(series)) continue;
      }
      copies.push({ path: file, size: fs.statSync(file).size });
    } catch (error) {
      context.logger.debug('Skipped a copy in .conflicts that could not be read', { path: file, error: describeError(error) });
    }
  }
  return copies;
}

/** Returns one DeletedStudy per study of the plan that lost rows, with what remains of it. */
function summarizeDeleted(catalog: ArchiveCatalog, plan: DeletionPlan, removedRows: readonly SelectedRow[], removedBytes: ReadonlyMap<string, number>): DeletedStudy[] {
  const remaining = new Map(catalog.summarizeStudies(plan.studies.map((study) => study.study.studyInstanceUid)).map((study) => [study.studyInstanceUid, study.numberOfInstances]));
  const deleted: DeletedStudy[] = [];
  for (const planned of plan.studies) {
    const studyUid = planned.study.studyInstanceUid;
    const rows = removedRows.filter((row) => row.studyInstanceUid === studyUid);
    if (rows.length === 0) continue;
    deleted.push({
      studyInstanceUid: studyUid,
      wholeStudy: planned.wholeStudy,
      seriesInstanceUids: [...new Set(rows.map((row) => row.seriesInstanceUid))],
      instances: rows.length,
      bytes: removedBytes.get(studyUid) ?? 0,
      remainingInstances: remaining.get(studyUid) ?? 0,
    });
  }
  return deleted;
}

function unique(values: readonly string[] | undefined): string[] {
  return [...new Set(values ?? [])];
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
