/**
 * Scan of local folders and media: finds DICOM files (also through DICOMDIR
 * files), reads their headers only, and indexes them in place or imports
 * copies. One bad file never stops the scan.
 */

import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTick } from 'node:timers/promises';
import { listDicomdirReferencedFiles } from '../../dicom/dicomdir';
import { NotDicomError, readDicomFileHeaderSync, type DicomFileHeader } from '../../dicom/file-reader';
import { DicomParseError } from '../../dicom/parser';
import { Tags } from '../../dicom/tags';
import { InvalidUidError, SopClass } from '../../dicom/uid';
import { createLogger, type Logger } from '../logger';
import type { LocalArchive } from './archive';
import { IndexConflictError, type StudySummary } from './catalog';
import { ArchiveError, describeError, describeReadError } from './errors';
import { datasetBytesEqualSync } from './file-ops';
import { readInstanceRecord, type InstanceRecord } from './instance-record';
import type { StoreOutcomeKind } from './placement';
import { FileWalker } from './walk';

export interface ScanOptions {
  /** Copy files into the archive; false indexes them where they are. */
  import: boolean;
  /** Called every PROGRESS_INTERVAL files and once at the end. */
  onProgress?: (progress: ScanProgress) => void;
  /** Files indexed per SQLite transaction (default 500). */
  batchSize?: number;
}

export interface ScanProgress {
  scanned: number;
  indexed: number;
  imported: number;
  duplicates: number;
  conflicts: number;
  failed: number;
  /** The file examined last. */
  currentPath: string;
}

export interface FileProblem {
  path: string;
  reason: string;
}

export interface ScanReport {
  /** Files examined, counted once however often the walk and DICOMDIR files reach them; DICOMDIR files excluded. */
  scanned: number;
  /** Files indexed in place. */
  indexed: number;
  /** Files copied into the archive. */
  imported: number;
  /** Files whose SOP Instance UID was already indexed with the same data set bytes. */
  duplicates: number;
  /**
   * Files whose SOP Instance UID was already indexed with different bytes. An
   * import keeps them in the archive's .conflicts folder, and an in-place scan
   * leaves them unindexed.
   */
  conflicts: number;
  /** DICOMDIR files whose references were followed. */
  dicomdirs: number;
  notDicom: FileProblem[];
  /** DICOM files that could not be parsed or lack a valid Study, Series or SOP Instance UID, and unreadable folders. */
  damaged: FileProblem[];
  /** Given paths that do not exist, and files a DICOMDIR references that do not exist. */
  missing: FileProblem[];
  /** Symbolic links that were not followed (see walk.ts for the rule); they do not count as failures. */
  skippedLinks: FileProblem[];
  /** The studies that indexed, imported or duplicate files belong to. */
  studies: StudySummary[];
}

const DEFAULT_BATCH_SIZE = 500;
const PROGRESS_INTERVAL = 100;

/**
 * Walks `paths` and indexes or imports every DICOM file. In-place indexing runs
 * synchronously in transactions of `batchSize` files and yields to the event
 * loop between transactions, so a server in the same process keeps serving requests.
 */
export async function scanPaths(archive: LocalArchive, paths: string[], options: ScanOptions): Promise<ScanReport> {
  const scan = new Scan(archive, options);
  await scan.run(paths);
  return scan.report();
}

class Scan {
  private readonly counts = { scanned: 0, indexed: 0, imported: 0, duplicates: 0, conflicts: 0, dicomdirs: 0 };
  private readonly notDicom: FileProblem[] = [];
  private readonly damaged: FileProblem[] = [];
  private readonly missing: FileProblem[] = [];
  private skippedLinks: FileProblem[] = [];
  private readonly studyUids = new Set<string>();
  private readonly seenFiles = new Set<string>();
  private readonly batchSize: number;
  private inBatch = 0;
  private lastPath = '';
  private readonly logger: Logger;

  constructor(
    private readonly archive: LocalArchive,
    private readonly options: ScanOptions,
  ) {
    this.batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
    this.logger = createLogger('loader.archive').child('scan');
  }

  async run(paths: string[]): Promise<void> {
    const existingPaths = paths.filter((given) => this.checkGivenPathExists(given));
    const archiveRoot = fs.realpathSync.native(this.archive.root);
    this.warnAboutPathsInArchive(existingPaths, archiveRoot);
    const walker = new FileWalker(existingPaths, { skipFolders: [archiveRoot] });
    this.logger.info('Scan started', { paths: paths.join(','), import: this.options.import });
    try {
      for (let file = walker.next(); file !== undefined; file = walker.next()) {
        // Only steps that return a promise are awaited: awaiting every file would let other
        // promise chains (a C-STORE) run their index writes inside the open batch transaction.
        const pending = this.visit(file, walker);
        if (pending) await pending;
      }
    } finally {
      this.commitBatch();
    }
    for (const problem of walker.problems) this.damaged.push(problem);
    this.skippedLinks = walker.skippedLinks;
    for (const link of this.skippedLinks) this.logger.info('Skipped a symbolic link', { path: link.path, reason: link.reason });
    this.reportProgress();
    this.logger.info('Scan finished', {
      ...this.counts,
      notDicom: this.notDicom.length,
      damaged: this.damaged.length,
      missing: this.missing.length,
      skippedLinks: this.skippedLinks.length,
    });
  }

  report(): ScanReport {
    return {
      ...this.counts,
      notDicom: this.notDicom,
      damaged: this.damaged,
      missing: this.missing,
      skippedLinks: this.skippedLinks,
      studies: this.archive.summarizeStudies(this.studyUids),
    };
  }

  /**
   * Logs a warning for each given path inside the archive folder, because the
   * walk skips that folder and the report would otherwise show 0 files with no reason.
   */
  private warnAboutPathsInArchive(paths: string[], archiveRoot: string): void {
    for (const given of paths) {
      let realPath: string;
      try {
        realPath = fs.realpathSync.native(given);
      } catch {
        continue;
      }
      const relative = path.relative(archiveRoot, realPath);
      if (relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) continue;
      this.logger.warn(
        'A given path is inside the archive folder, which scan skips because its files are indexed already; ' +
          'run "loader reindex" to rebuild the index from the archive\'s files',
        { path: path.resolve(given), archive: archiveRoot },
      );
    }
  }

  /** Returns true when a given path exists, and lists it as missing otherwise. */
  private checkGivenPathExists(given: string): boolean {
    const absolutePath = path.resolve(given);
    try {
      fs.statSync(absolutePath);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Other failures, such as EACCES or ELOOP, are reported by the walk.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return true;
      this.missing.push({ path: absolutePath, reason: `the given path does not exist (${code})` });
      this.logger.warn('A given path does not exist', { path: absolutePath });
      return false;
    }
  }

  /**
   * Examines one file. Returns a promise only for steps that wait (DICOMDIR
   * reading, copying, yielding to the event loop), and commits the open
   * batch transaction before any of them.
   */
  private visit(file: string, walker: FileWalker): Promise<void> | undefined {
    let realPath: string;
    try {
      realPath = fs.realpathSync.native(file);
    } catch (error) {
      this.damaged.push({ path: file, reason: describeError(error) });
      return undefined;
    }
    if (this.seenFiles.has(realPath)) return undefined;
    this.seenFiles.add(realPath);
    this.lastPath = realPath;

    if (path.basename(realPath).toUpperCase() === 'DICOMDIR') return this.followDicomdir(realPath, walker);

    let header: DicomFileHeader | undefined;
    let readError: unknown;
    try {
      header = readDicomFileHeaderSync(realPath);
    } catch (error) {
      readError = error;
    }
    if (header?.meta.getString(Tags.MediaStorageSOPClassUID) === SopClass.MediaStorageDirectoryStorage) {
      return this.followDicomdir(realPath, walker);
    }

    this.counts.scanned++;
    let record: InstanceRecord;
    try {
      if (header === undefined) throw readError;
      record = readInstanceRecord(header);
    } catch (error) {
      this.recordFailure(realPath, error);
      return this.afterFile();
    }

    if (this.options.import) return this.importCopy(realPath, header, record).then(() => this.afterFile());
    try {
      this.count(this.indexInPlace(realPath, header, record));
      this.studyUids.add(record.study.studyInstanceUid);
    } catch (error) {
      this.recordFailure(realPath, error);
    }
    return this.afterFile();
  }

  /** Reports progress and, after a full batch, commits it and yields to the event loop. */
  private afterFile(): Promise<void> | undefined {
    if (this.counts.scanned % PROGRESS_INTERVAL === 0) this.reportProgress();
    if (this.inBatch < this.batchSize) return undefined;
    this.commitBatch();
    return nextTick().then(() => undefined);
  }

  private async followDicomdir(file: string, walker: FileWalker): Promise<void> {
    this.commitBatch();
    this.counts.dicomdirs++;
    try {
      const { files, missing, warnings } = await listDicomdirReferencedFiles(file);
      for (const warning of warnings) this.logger.warn('DICOMDIR problem', { path: file, warning });
      for (const referenced of missing) {
        this.missing.push({ path: referenced, reason: `referenced by DICOMDIR ${file} but not found` });
      }
      // Reversed so the references are visited in DICOMDIR order.
      for (const referenced of [...files].reverse()) walker.push(referenced);
    } catch (error) {
      this.damaged.push({ path: file, reason: describeFileProblem(file, error) });
      this.logger.warn('Failed to read a DICOMDIR; its folder is still walked', { path: file, error: describeError(error) });
    }
  }

  /** Indexes one file where it is, inside the open batch transaction. */
  private indexInPlace(file: string, header: DicomFileHeader, record: InstanceRecord): StoreOutcomeKind {
    const catalog = this.archive.catalog;
    const sopInstanceUid = record.instance.sopInstanceUid;
    const indexed = catalog.findInstance(sopInstanceUid);
    if (indexed?.path === file) return 'duplicate';

    if (indexed && fs.existsSync(indexed.path)) {
      if (sameDatasetBytesSync(indexed.path, file, header.datasetOffset)) return 'duplicate';
      this.logger.warn('File has different content for an indexed SOP Instance UID; not indexed', {
        sopInstanceUid,
        path: file,
        storedPath: indexed.path,
      });
      return 'conflict';
    }

    this.beginBatch();
    try {
      catalog.addInstance(
        record,
        { path: file, inPlace: true, size: header.fileSize, receivedAt: new Date().toISOString(), sourceAeTitle: '' },
        file,
        { rejectConflicts: true },
      );
    } catch (error) {
      if (!(error instanceof IndexConflictError)) throw error;
      this.logger.warn('File conflicts with the index; not indexed', { sopInstanceUid, path: file, reason: error.message });
      return 'conflict';
    }
    this.inBatch++;
    return 'stored';
  }

  /** Copies one file into the archive and counts the outcome; never rejects. */
  private async importCopy(file: string, header: DicomFileHeader, record: InstanceRecord): Promise<void> {
    this.commitBatch();
    try {
      const outcome = await this.archive.importCopy(file, header, record);
      this.count(outcome.outcome);
      this.studyUids.add(record.study.studyInstanceUid);
    } catch (error) {
      this.recordFailure(file, error);
    }
    this.inBatch++;
  }

  private count(outcome: StoreOutcomeKind): void {
    if (outcome === 'stored') {
      if (this.options.import) this.counts.imported++;
      else this.counts.indexed++;
    } else if (outcome === 'duplicate') {
      this.counts.duplicates++;
    } else {
      this.counts.conflicts++;
    }
  }

  private recordFailure(file: string, error: unknown): void {
    const reason = describeFileProblem(file, error);
    if (unwrapFileError(error) instanceof NotDicomError) {
      this.notDicom.push({ path: file, reason });
      return;
    }
    this.damaged.push({ path: file, reason });
    const code = error instanceof ArchiveError ? error.code : undefined;
    this.logger.warn('Skipped a damaged file', { path: file, code, error: describeError(error) });
  }

  private failedCount(): number {
    return this.notDicom.length + this.damaged.length + this.missing.length;
  }

  private beginBatch(): void {
    const db = this.archive.catalog.db;
    if (!db.inTransaction) {
      db.exec('BEGIN IMMEDIATE');
      this.inBatch = 0;
    }
  }

  private commitBatch(): void {
    const db = this.archive.catalog.db;
    if (db.inTransaction) db.exec('COMMIT');
    this.inBatch = 0;
  }

  private reportProgress(): void {
    this.options.onProgress?.({
      ...this.counts,
      failed: this.failedCount(),
      currentPath: this.lastPath,
    });
  }
}

/** Returns the parse or UID error that an 'unreadable' or 'invalid-uid' ArchiveError wraps, or `error` itself. */
function unwrapFileError(error: unknown): unknown {
  let cause = error;
  while (cause instanceof ArchiveError && (cause.code === 'unreadable' || cause.code === 'invalid-uid') && cause.cause) {
    cause = cause.cause;
  }
  return cause;
}

/**
 * Describes why a file failed without repeating its path, because the report
 * prints the path next to the reason. A NotDicomError yields only its reason,
 * because the report lists those files under "not DICOM".
 */
function describeFileProblem(file: string, error: unknown): string {
  const cause = unwrapFileError(error);
  if (cause instanceof NotDicomError) return cause.reason;
  if (cause instanceof DicomParseError) return `${cause.reason} (at byte offset ${cause.offset})`;
  if (cause instanceof InvalidUidError) return cause.message;

  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return describeReadError(cause, 'file');

  const message = describeError(error);
  const prefix = `${file}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

function sameDatasetBytesSync(storedPath: string, candidatePath: string, candidateOffset: number): boolean {
  let storedOffset: number;
  try {
    storedOffset = readDicomFileHeaderSync(storedPath).datasetOffset;
  } catch {
    return false;
  }
  return datasetBytesEqualSync({ path: storedPath, datasetOffset: storedOffset }, { path: candidatePath, datasetOffset: candidateOffset });
}
