/**
 * Rebuilds the archive index from the folder tree: a new database file is
 * built next to the index and then renamed over it, so a failed rebuild
 * leaves the old index in place.
 */

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { readDicomFileHeaderSync } from '../../dicom/file-reader';
import { createLogger, type Logger } from '../logger';
import { markArchiveUse, otherArchiveUsers } from './archive-users';
import { ArchiveCatalog } from './catalog';
import { ArchiveError, describeError } from './errors';
import { fsyncDirectorySync } from './file-ops';
import { readInstanceRecord } from './instance-record';
import { INDEX_FILE, indexPath, isInternalName } from './layout';
import { openIndexDatabase } from './schema';
import { FileWalker, type WalkProblem } from './walk';

export interface ReindexOptions {
  logger?: Logger;
  /** Files indexed per SQLite transaction (default 500). */
  batchSize?: number;
}

export interface ReindexReport {
  /** Files in the tree that were indexed. */
  indexed: number;
  /** Files indexed in place that the old index listed and that still exist. */
  inPlaceInstances: number;
  studies: number;
  series: number;
  patients: number;
  /** Files that could not be read or indexed, with the reason. */
  unreadable: WalkProblem[];
}

/** Arrival details stored only in the old index, carried over so rebuilt rows equal the old ones. */
interface ArrivalInfo {
  receivedAt: string;
  sourceAeTitle: string;
  path: string;
  inPlace: number;
}

const SQLITE_SIDE_FILES = ['-wal', '-shm', '-journal'];

/**
 * Rebuilds `<root>/index.sqlite` from the files below `root`, skipping dot
 * folders. Files the old index listed as indexed in place are indexed again
 * when they still exist, and arrival times and source AE titles are carried
 * over from the old index when it can be read.
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
    const users = otherArchiveUsers(archiveRoot, 'open');
    if (users.length > 0) {
      throw new ArchiveError(
        'in-use',
        `The archive ${archiveRoot} is open in another loader process (PID ${users.join(', ')}), such as loader serve or the desktop window. ` +
          'Stop it, then run loader reindex again.',
      );
    }
    return await rebuildIndex(archiveRoot, livePath, buildPath, batchSize, logger);
  } finally {
    releaseUse();
  }
}

async function rebuildIndex(archiveRoot: string, livePath: string, buildPath: string, batchSize: number, logger: Logger): Promise<ReindexReport> {
  logger.info('Reindex started', { root: archiveRoot });

  const arrivals = readArrivalInfo(livePath, logger);
  removeDatabaseFiles(buildPath);
  const db = openIndexDatabase(buildPath, { journalMode: 'DELETE' });
  const failed: WalkProblem[] = [];
  let instances = 0;
  let inPlaceInstances = 0;

  try {
    const catalog = new ArchiveCatalog(db, archiveRoot, logger);
    const indexFile = (file: string, inPlace: boolean): boolean => {
      try {
        const header = readDicomFileHeaderSync(file);
        const record = readInstanceRecord(header);
        const sopInstanceUid = record.instance.sopInstanceUid;
        const earlier = catalog.findInstance(sopInstanceUid);
        if (earlier) {
          failed.push({ path: file, reason: `SOP Instance UID ${sopInstanceUid} is already indexed from ${earlier.path}` });
          return false;
        }
        const arrival = arrivals.get(sopInstanceUid);
        catalog.addInstance(
          record,
          {
            path: file,
            inPlace,
            size: header.fileSize,
            receivedAt: arrival?.receivedAt ?? new Date().toISOString(),
            sourceAeTitle: arrival?.sourceAeTitle ?? '',
          },
          file,
          // A series already indexed under another study is reported as a problem instead of merged into that study.
          { rejectConflicts: true },
        );
        return true;
      } catch (error) {
        // The report prints the path next to the reason, and parse errors start with the path.
        const reason = describeError(error);
        failed.push({ path: file, reason: reason.startsWith(`${file}: `) ? reason.slice(file.length + 2) : reason });
        return false;
      }
    };

    const walker = new FileWalker([archiveRoot], {
      skipName: (name, isDirectory) => isInternalName(name) || (!isDirectory && name.startsWith(INDEX_FILE)),
    });
    let inBatch = 0;
    db.exec('BEGIN');
    for (let file = walker.next(); file !== undefined; file = walker.next()) {
      if (indexFile(file, false)) instances++;
      if (++inBatch >= batchSize) {
        db.exec('COMMIT');
        db.exec('BEGIN');
        inBatch = 0;
      }
    }
    for (const arrival of arrivals.values()) {
      if (arrival.inPlace !== 1) continue;
      if (!fs.existsSync(arrival.path)) {
        failed.push({ path: arrival.path, reason: 'File indexed in place no longer exists' });
        continue;
      }
      if (indexFile(arrival.path, true)) inPlaceInstances++;
    }
    db.exec('COMMIT');
    failed.push(...walker.problems);
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

    const report: ReindexReport = { indexed: instances, inPlaceInstances, ...counts, unreadable: failed };
    logger.info('Reindex finished', {
      root: archiveRoot,
      instances,
      inPlaceInstances,
      studies: counts.studies,
      failed: failed.length,
    });
    for (const problem of failed) logger.warn('Reindex skipped a file', { path: problem.path, error: problem.reason });
    return report;
  } catch (error) {
    if (db.open) db.close();
    removeDatabaseFiles(buildPath);
    logger.error('Reindex failed; the old index is unchanged', { root: archiveRoot, error: describeError(error) });
    throw error;
  }
}

/** Reads arrival details per SOP Instance UID from the old index; an unreadable index yields none. */
function readArrivalInfo(livePath: string, logger: Logger): Map<string, ArrivalInfo> {
  const arrivals = new Map<string, ArrivalInfo>();
  if (!fs.existsSync(livePath)) return arrivals;
  let db: Database.Database | undefined;
  try {
    db = new Database(livePath, { readonly: true, fileMustExist: true });
    const rows = db
      .prepare(`SELECT sop_instance_uid AS sopInstanceUid, received_at AS receivedAt,
        source_ae_title AS sourceAeTitle, path, in_place AS inPlace FROM instances`)
      .all() as (ArrivalInfo & { sopInstanceUid: string })[];
    for (const row of rows) arrivals.set(row.sopInstanceUid, row);
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

function removeDatabaseFiles(file: string): void {
  fs.rmSync(file, { force: true });
  for (const suffix of SQLITE_SIDE_FILES) fs.rmSync(file + suffix, { force: true });
}
