/**
 * Scan of local folders and media: finds DICOM files (also through DICOMDIR
 * files), reads their headers only, and indexes them in place or imports
 * copies. One bad file never stops the scan.
 */

import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTick } from 'node:timers/promises';
import type { Statement } from 'better-sqlite3';
import { listDicomdirReferencedFiles } from '../../dicom/dicomdir';
import { NotDicomError, readDicomFileHeaderSync, type DicomFileHeader } from '../../dicom/file-reader';
import { DicomParseError } from '../../dicom/parser';
import { Tags } from '../../dicom/tags';
import { InvalidUidError, SopClass } from '../../dicom/uid';
import { createLogger, type Logger } from '../logger';
import type { LocalArchive } from './archive';
import { IndexConflictError, OtherPatientError, describeOtherPatient, otherPatientConflict, type OtherPatientConflict, type StudySummary } from './catalog';
import { indexedFileChanged, removeReplacedInstances } from './changed-file';
import { ArchiveError, describeError, describeReadError } from './errors';
import { readInstanceRecord, type InstanceRecord } from './instance-record';
import { warnFileMetaElementsInDataset } from './file-meta-notice';
import { logLegacyCharacterSetText } from './legacy-charset-notice';
import { INDEX_FILE, conflictsFolder, incomingFolder, processesFolder, trashFolder } from './layout';
import { otherPatientFields, type StoreOutcomeKind } from './placement';
import { HeaderPrefetch, type PrefetchedHeader } from './header-prefetch';
import { compareBytesSync, compareDecodedValues, type EncodedDataset } from './same-content';
import { listUnreferencedFiles, type UnreferencedFiles } from './unreferenced-files';
import { FileWalker, describeFileSystemError, type FileWalkerOptions, type WalkProblem } from './walk';

export type { UnreferencedFiles } from './unreferenced-files';

export interface ScanOptions {
  /** Copy files into the archive; false indexes them where they are. */
  import: boolean;
  /** Called every PROGRESS_INTERVAL files and once at the end. */
  onProgress?: (progress: ScanProgress) => void;
  /** Files indexed per SQLite transaction (default 500). */
  batchSize?: number;
  /**
   * Stops the scan before the next file once aborted, and the report then has
   * `cancelled` set. The scan yields to the event loop only after each batch,
   * so an abort from a signal handler takes effect within one batch.
   */
  signal?: AbortSignal;
  /**
   * Walks the archive's own folder too when a given path is inside it, as the
   * window's Scan of a Local panel does, and skips only the archive's internal
   * entries: the .incoming, .conflicts, .processes and .trash folders of the archive
   * root and files named index.sqlite* (the index and its journal files) in
   * any folder. Files the archive stored count as duplicates. Default false:
   * `loader scan` skips the archive folder, whose files are indexed already.
   */
  includeArchiveFolder?: boolean;
  /**
   * Rewrites a path, or a message that contains paths, for the scan's log
   * lines; by default they show paths as they are. `loader ssh get` replaces
   * staged paths, which repeat remote paths and so often patient names.
   */
  redactLogText?: (text: string) => string;
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

/**
 * A file whose Study or Series Instance UID the index lists under another
 * Patient ID, so it was not indexed (an import keeps it in .conflicts). Also a
 * file indexed into a study of the same Patient ID whose Issuer of Patient ID
 * differs, or, without a Patient ID, whose patient name or birth date differs.
 */
export interface OtherPatientFile extends FileProblem {
  studyInstanceUid: string;
  /** The Patient ID of the study in the index, which the study keeps. */
  storedPatientId: string;
  /** The Patient ID in the file. */
  filePatientId: string;
}

/**
 * A file indexed in place whose index entry named an instance that the file
 * no longer contains, because it now contains another instance, damaged data
 * or no DICOM data.
 */
export interface ReplacedFile extends FileProblem {
  /** The SOP Instance UID whose index entry was removed. */
  previousSopInstanceUid: string;
  /** The SOP Instance UID in the file now, or '' when the file is now damaged or not DICOM. */
  sopInstanceUid: string;
}

/**
 * A given path or a referenced file that does not exist. For a file that a
 * DICOMDIR references, `path` is its Referenced File ID (0004,1500) joined to
 * the DICOMDIR's folder (PS3.10 section 8 and PS3.3 section F.3).
 */
export interface MissingFile extends FileProblem {
  /** The DICOMDIR whose directory record references the file; absent for a given path. */
  dicomdir?: string;
  /** The Referenced File ID as the DICOMDIR stores it, components separated by backslashes. */
  referencedFileId?: string;
}

export interface ScanReport {
  /**
   * Entries examined, counted once however often the walk and DICOMDIR files
   * reach them: every file, special files included, and every entry of the
   * problem lists except skippedLinks, otherPatient and missing. Files of
   * otherPatient are counted as conflicts, or as indexed or imported when
   * only the issuer or the name differs. Missing files do not exist, so they
   * are not counted. DICOMDIR files are excluded.
   */
  scanned: number;
  /** Files indexed in place. */
  indexed: number;
  /** Files indexed in place before whose size or modification time changed since, indexed again. */
  updated: number;
  /** Files copied into the archive. */
  imported: number;
  /**
   * Files whose SOP Instance UID was already indexed with the same data set:
   * the same bytes, or the same elements and values in another uncompressed
   * transfer syntax (see same-content.ts).
   */
  duplicates: number;
  /**
   * Files whose SOP Instance UID was already indexed with a different data set,
   * or whose study or series the index lists under another Patient ID. An
   * import keeps them in the archive's .conflicts folder, and an in-place scan
   * leaves them unindexed.
   */
  conflicts: number;
  /** DICOMDIR files whose references were followed. */
  dicomdirs: number;
  /**
   * Per DICOMDIR that was read, the files in its folder tree that none of its
   * records reference. The scan does not read them, and they are not counted
   * in `scanned`. A folder that contains a DICOMDIR is DICOM media, so only
   * the referenced files are read, and the viewer program on a patient CD is
   * not reported as non-DICOM files.
   */
  unreferenced: UnreferencedFiles[];
  /** Files with no DICM prefix that do not parse as a data set either. */
  notDicom: FileProblem[];
  /** DICOM files that could not be parsed or lack a valid Study, Series or SOP Instance UID. */
  damaged: FileProblem[];
  /** Files and folders that the file system failed to open or list (permission, name encoding, path length). */
  unreadable: FileProblem[];
  /** The conflicts above by path, except those of another Patient ID: files not indexed, or kept in .conflicts by an import. */
  notIndexed: FileProblem[];
  /** DICOMDIR records skipped because their Referenced File ID is unsafe; the path is the DICOMDIR's. */
  skippedRecords: FileProblem[];
  /** Files of another patient than the study or series that the index lists under their UIDs (see OtherPatientFile). */
  otherPatient: OtherPatientFile[];
  /** Given paths that do not exist, and files a DICOMDIR references that do not exist. */
  missing: MissingFile[];
  /**
   * FIFOs (named pipes), sockets and device files that the walk or a DICOMDIR
   * reached, by real path. They are never opened, because opening a FIFO blocks
   * until a writer opens it, and they do not count as failures.
   */
  specialFiles: FileProblem[];
  /**
   * Symbolic links that were not followed (see walk.ts for the rule), and files
   * whose real path a symbolic link put inside the archive folder, which scan
   * skips unless includeArchiveFolder is set. They do not count as failures.
   */
  skippedLinks: FileProblem[];
  /**
   * Files indexed in place by an earlier scan or importFile and overwritten
   * since with another instance. The index entries of the previous instances
   * were removed. These files do not count as failures.
   */
  replaced: ReplacedFile[];
  /**
   * Studies that this scan added whose first file carries another Patient's
   * Name than the patient record of the same Patient ID (see
   * ArchiveCatalog.studiesWithOtherPatientName).
   */
  studiesWithOtherPatientName: number;
  /** The studies that indexed, imported or duplicate files belong to. */
  studies: StudySummary[];
  /** True when `signal` stopped the scan before the walk ended; the files not reached are in no list. */
  cancelled: boolean;
}

const DEFAULT_BATCH_SIZE = 500;
const PROGRESS_INTERVAL = 100;

/** The header facts that indexing in place needs, from a parsed header or from the prefetch thread. */
type HeaderFacts = Pick<DicomFileHeader, 'fileSize' | 'datasetOffset'>;

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
  private readonly counts = { scanned: 0, indexed: 0, updated: 0, imported: 0, duplicates: 0, conflicts: 0, dicomdirs: 0 };
  private readonly notDicom: FileProblem[] = [];
  private readonly damaged: FileProblem[] = [];
  private readonly unreadable: FileProblem[] = [];
  private readonly notIndexed: FileProblem[] = [];
  private readonly skippedRecords: FileProblem[] = [];
  private readonly unreferenced: UnreferencedFiles[] = [];
  /** The options of the scan's walk, also used to look for files that a DICOMDIR does not reference. */
  private walkOptions: FileWalkerOptions = {};
  /** The given paths, resolved: a DICOMDIR given by path has its folder checked for unreferenced files too. */
  private givenPaths = new Set<string>();
  private readonly otherPatient: OtherPatientFile[] = [];
  /** The last study_conflicts row before this scan; later rows with a file's path as source are that file's. */
  private lastStudyConflictId = 0;
  /** ArchiveCatalog.studiesWithOtherPatientName when the scan started. */
  private otherPatientNameBefore = 0;
  private studyConflictsQuery: Statement | undefined;
  private readonly missing: MissingFile[] = [];
  private skippedLinks: FileProblem[] = [];
  /** Files that the walk reached through a symbolic link into the archive folder, which were not read. */
  private readonly linksIntoArchive: FileProblem[] = [];
  /** The archive folder's real path, set when the scan starts. */
  private archiveRoot = '';
  private readonly specialFiles: FileProblem[] = [];
  private readonly replaced: ReplacedFile[] = [];
  /** Real paths of the given paths, and the in-place rows under them by path, read once when the scan starts. */
  private scannedRoots: string[] = [];
  private inPlaceUidsByPath = new Map<string, string[]>();
  private readonly studyUids = new Set<string>();
  /** Files with text decoded in the legacy character set (InstanceRecord.hasLegacyCharacterSetText). */
  private legacyCharacterSetFiles = 0;
  private readonly seenFiles = new Set<string>();
  private readonly batchSize: number;
  private inBatch = 0;
  private lastPath = '';
  private cancelled = false;
  private readonly logger: Logger;

  constructor(
    private readonly archive: LocalArchive,
    private readonly options: ScanOptions,
  ) {
    this.batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
    this.logger = createLogger('loader.archive').child('scan');
  }

  private forLog(text: string): string {
    return this.options.redactLogText?.(text) ?? text;
  }

  async run(paths: string[]): Promise<void> {
    const archiveRoot = fs.realpathSync.native(this.archive.root);
    this.archiveRoot = archiveRoot;
    let existingPaths = paths.filter((given) => this.checkGivenPathExists(given));
    if (!this.options.includeArchiveFolder) existingPaths = this.skipPathsInArchive(existingPaths, archiveRoot);
    this.walkOptions = this.options.includeArchiveFolder ? archiveInternalEntries(archiveRoot) : { skipFolders: [archiveRoot] };
    this.givenPaths = new Set(existingPaths.map((given) => path.resolve(given)));
    const walker = new FileWalker(existingPaths, { ...this.walkOptions, holdBackMediaFolders: true });
    // An import reads each file whole to copy it, so only a scan in place starts the header thread.
    const legacyCharacterSet = this.archive.legacyCharacterSet;
    const files = new HeaderPrefetch(walker, this.logger, this.options.import ? { filesBeforeThread: Infinity, legacyCharacterSet } : { legacyCharacterSet });
    this.lastStudyConflictId = this.readLastStudyConflictId();
    this.otherPatientNameBefore = this.archive.catalog.studiesWithOtherPatientName;
    this.scannedRoots = realPathsOf(existingPaths);
    this.inPlaceUidsByPath = this.archive.catalog.listInPlaceInstancesUnder(this.scannedRoots);
    this.logger.info('Scan started', { paths: this.forLog(paths.join(',')), import: this.options.import });
    try {
      for (let next = files.next(); next !== undefined; next = files.next()) {
        // Only steps that return a promise are awaited: awaiting every file would let other
        // promise chains (a C-STORE) run their index writes inside the open batch transaction.
        if (this.options.signal?.aborted) {
          this.cancelled = true;
          this.logger.info('Scan cancelled; files not reached yet are not indexed', { lastPath: this.forLog(this.lastPath) });
          break;
        }
        const pending = next.read ? this.visitPrefetched(next.file, next.read) : this.visit(next.file, walker);
        if (pending) await pending;
      }
    } finally {
      files.close();
      this.commitBatch();
    }
    for (const problem of walker.problems) this.unreadable.push(problem);
    this.skippedLinks = [...this.listSkippedLinks(walker.skippedLinks), ...this.linksIntoArchive];
    this.listSpecialFiles(walker.specialFiles);
    this.reportProgress();
    this.logger.info('Scan finished', {
      ...this.counts,
      scanned: this.scannedCount(),
      cancelled: this.cancelled,
      notDicom: this.notDicom.length,
      damaged: this.damaged.length,
      unreadable: this.unreadable.length,
      missing: this.missing.length,
      skippedRecords: this.skippedRecords.length,
      unreferenced: this.unreferenced.reduce((sum, entry) => sum + entry.count, 0),
      otherPatient: this.otherPatient.length,
      skippedLinks: this.skippedLinks.length,
      specialFiles: this.specialFiles.length,
      replaced: this.replaced.length,
    });
    if (this.legacyCharacterSetFiles > 0) {
      const { legacyCharacterSet, legacyCharacterSetSource } = this.archive;
      logLegacyCharacterSetText(this.logger, 'Scanned files', legacyCharacterSet, legacyCharacterSetSource, false, { files: this.legacyCharacterSetFiles });
    }
  }

  /**
   * Returns the symbolic links the walk did not follow, and logs each. A link
   * into the archive folder gets a warning, as a given path inside it does.
   */
  private listSkippedLinks(skipped: readonly WalkProblem[]): FileProblem[] {
    return skipped.map((link) => {
      if (link.skippedFolder === this.archiveRoot && link.target !== undefined && !this.options.includeArchiveFolder) {
        return this.skipLinkIntoArchive(link.path, link.target);
      }
      this.logger.info('Skipped a symbolic link', { path: this.forLog(link.path), reason: link.reason });
      return { path: link.path, reason: link.reason };
    });
  }

  /**
   * Logs a warning for `file`, which the walk reached and whose real path
   * `realPath` is inside the archive folder, and returns its report entry.
   * Indexing it would list an archive file as a file indexed in place.
   */
  private skipLinkIntoArchive(file: string, realPath: string): FileProblem {
    this.logger.warn(
      'A symbolic link leads into the archive folder, which scan skips because its files are indexed already; ' +
        'run "loader reindex" to index the files of the archive folder and move misplaced ones to their layout paths',
      { path: this.forLog(file), realPath: this.forLog(realPath), archive: this.archiveRoot },
    );
    return {
      path: file,
      reason: `symbolic link to ${realPath}, inside the archive folder, whose files scan does not index; run "loader reindex" to index them`,
    };
  }

  /**
   * Lists the special files the walk skipped, once per real path, because a
   * folder and a DICOMDIR, or two links, may reach the same FIFO.
   */
  private listSpecialFiles(skipped: readonly FileProblem[]): void {
    for (const entry of skipped) {
      let realPath = entry.path;
      try {
        realPath = fs.realpathSync.native(entry.path);
      } catch {
        // Removed since the walk saw it; the path it was found under is listed.
      }
      if (this.seenFiles.has(realPath)) continue;
      this.seenFiles.add(realPath);
      this.specialFiles.push({ path: realPath, reason: entry.reason });
      this.logger.info('Skipped a special file', { path: this.forLog(realPath), reason: entry.reason });
    }
  }

  /** Returns the report's `scanned`: the files the walk returned, and the entries listed without reaching that count. */
  private scannedCount(): number {
    return this.counts.scanned + this.unreadable.length + this.skippedRecords.length + this.specialFiles.length;
  }

  report(): ScanReport {
    return {
      ...this.counts,
      scanned: this.scannedCount(),
      notDicom: this.notDicom,
      damaged: this.damaged,
      unreadable: this.unreadable,
      notIndexed: this.notIndexed,
      skippedRecords: this.skippedRecords,
      unreferenced: this.unreferenced,
      otherPatient: this.otherPatient,
      missing: this.missing,
      skippedLinks: this.skippedLinks,
      specialFiles: this.specialFiles,
      replaced: this.replaced,
      studiesWithOtherPatientName: this.archive.catalog.studiesWithOtherPatientName - this.otherPatientNameBefore,
      studies: this.archive.summarizeStudies(this.studyUids),
      cancelled: this.cancelled,
    };
  }

  /**
   * Returns the given paths outside the archive folder, and logs a warning for
   * each path inside it. The walk skips only the archive root itself, so a
   * study folder or file of the archive given by name would otherwise be
   * indexed in place, and its row would then block a store of the instance
   * whose layout path the file occupies.
   */
  private skipPathsInArchive(paths: string[], archiveRoot: string): string[] {
    return paths.filter((given) => {
      let realPath: string;
      try {
        realPath = fs.realpathSync.native(given);
      } catch {
        return true;
      }
      if (!isInsideFolder(realPath, archiveRoot)) return true;
      this.logger.warn(
        'A given path is inside the archive folder, which scan skips because its files are indexed already; ' +
          'run "loader reindex" to index the files of the archive folder and move misplaced ones to their layout paths',
        { path: path.resolve(given), archive: archiveRoot },
      );
      return false;
    });
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
      this.logger.warn('A given path does not exist', { path: this.forLog(absolutePath) });
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
      this.unreadable.push({ path: file, reason: describeFileSystemError(file, error, 'file') });
      this.logger.warn('Skipped an unreadable file', { path: this.forLog(file), error: this.forLog(describeError(error)) });
      return undefined;
    }
    if (this.seenFiles.has(realPath)) return undefined;
    this.seenFiles.add(realPath);
    if (this.isLinkedFromOutsideArchive(file, realPath)) return undefined;
    this.lastPath = realPath;

    if (path.basename(realPath).toUpperCase() === 'DICOMDIR') return this.followDicomdir(file, realPath, walker);

    let header: DicomFileHeader | undefined;
    let readError: unknown;
    try {
      header = readDicomFileHeaderSync(realPath);
    } catch (error) {
      readError = error;
    }
    if (header?.meta.getString(Tags.MediaStorageSOPClassUID) === SopClass.MediaStorageDirectoryStorage) {
      return this.followDicomdir(file, realPath, walker);
    }

    this.counts.scanned++;
    if (header !== undefined) warnFileMetaElementsInDataset(this.logger, header, { path: realPath });
    let record: InstanceRecord;
    try {
      if (header === undefined) throw readError;
      record = readInstanceRecord(header, this.archive.legacyCharacterSet);
    } catch (error) {
      this.recordFailure(realPath, error);
      this.removeRowsOfBrokenFile(realPath, error);
      return this.afterFile();
    }

    if (this.options.import) return this.importCopy(realPath, header, record).then(() => this.afterFile());
    const compared = this.indexAndCount(realPath, header, record);
    return compared ? compared.then(() => this.afterFile()) : this.afterFile();
  }

  /** Examines a file whose header the prefetch thread read. The thread leaves DICOMDIRs and files with any problem to visit(). */
  private visitPrefetched(file: string, read: PrefetchedHeader): Promise<void> | undefined {
    const { realPath, record } = read;
    if (this.seenFiles.has(realPath)) return undefined;
    this.seenFiles.add(realPath);
    if (this.isLinkedFromOutsideArchive(file, realPath)) return undefined;
    this.lastPath = realPath;

    this.counts.scanned++;
    const compared = this.indexAndCount(realPath, read, record);
    return compared ? compared.then(() => this.afterFile()) : this.afterFile();
  }

  /**
   * Returns true, and lists the file, when `realPath` is inside the archive
   * folder although the scan skips it: the walk reached `file` through a
   * symbolic link. Given paths inside the archive were dropped before the walk.
   */
  private isLinkedFromOutsideArchive(file: string, realPath: string): boolean {
    if (this.options.includeArchiveFolder || !isInsideFolder(realPath, this.archiveRoot)) return false;
    this.linksIntoArchive.push(this.skipLinkIntoArchive(file, realPath));
    return true;
  }

  /**
   * Indexes a file in place and counts the outcome. An error is recorded as a
   * failure of the file, not thrown. Returns a promise only when the file's
   * values must be compared with those of the indexed file (see indexInPlace).
   */
  private indexAndCount(realPath: string, header: HeaderFacts, record: InstanceRecord): Promise<void> | undefined {
    try {
      const outcome = this.indexInPlace(realPath, header, record);
      if (outcome instanceof Promise) {
        return outcome.then((settled) => this.countIndexed(realPath, record, settled)).catch((error: unknown) => this.recordFailure(realPath, error));
      }
      this.countIndexed(realPath, record, outcome);
    } catch (error) {
      this.recordFailure(realPath, error);
    }
    return undefined;
  }

  private countIndexed(realPath: string, record: InstanceRecord, outcome: ScanOutcome): void {
    this.count(outcome);
    this.studyUids.add(record.study.studyInstanceUid);
    if (record.hasLegacyCharacterSetText) this.legacyCharacterSetFiles++;
    if (outcome === 'stored' || outcome === 'updated') this.checkOtherPatient(realPath, record, this.lastStudyConflictId);
    // A file indexed by an earlier scan keeps the conflict that scan recorded, and every scan lists it again.
    if (outcome === 'duplicate') this.checkOtherPatient(realPath, record, 0);
  }

  /** Reports progress and, after a full batch, commits it and yields to the event loop. */
  private afterFile(): Promise<void> | undefined {
    if (this.counts.scanned % PROGRESS_INTERVAL === 0) this.reportProgress();
    if (this.inBatch < this.batchSize) return undefined;
    this.commitBatch();
    return nextTick().then(() => undefined);
  }

  /**
   * Reads the DICOMDIR `file` (at `walked`, the path the walk returned) and
   * queues the files it references. The walk held back the other entries of
   * its folder (see FileWalkerOptions.holdBackMediaFolders), and they are only
   * checked for a DICM prefix, unless the DICOMDIR cannot be read: then they
   * are walked as in any other folder.
   */
  private async followDicomdir(walked: string, file: string, walker: FileWalker): Promise<void> {
    this.commitBatch();
    this.counts.dicomdirs++;
    try {
      const { files, missing, warnings } = await listDicomdirReferencedFiles(file);
      const mediaFolders = this.listUnreferenced(walked, file, walker.takeHeldBackEntries(walked), files);
      for (const warning of warnings) {
        this.logger.warn('DICOMDIR problem', { path: this.forLog(file), warning: this.forLog(warning) });
        // NOTE: dicomdir.ts returns plain strings, so a skipped record is recognized by its wording there.
        if (warning.includes(' was skipped because ')) {
          this.skippedRecords.push({ path: file, reason: `${warning} Check how the medium was written; the file it names was not scanned.` });
        }
      }
      for (const reference of missing) {
        this.missing.push({
          path: reference.path,
          dicomdir: file,
          referencedFileId: reference.referencedFileId,
          reason:
            `not found: ${reference.record} of DICOMDIR ${file} references it as Referenced File ID "${reference.referencedFileId}", so it was not scanned. ` +
            'The medium or its copy is incomplete; copy the file from the original medium and scan again',
        });
      }
      // A subfolder with its own DICOMDIR is walked as media after the references, which are visited in DICOMDIR order.
      for (const folder of [...mediaFolders].reverse()) walker.push(folder);
      for (const referenced of [...files].reverse()) walker.push(referenced);
    } catch (error) {
      this.damaged.push({ path: file, reason: describeFileProblem(file, error) });
      this.logger.warn('Failed to read a DICOMDIR; its folder is still walked', { path: this.forLog(file), error: this.forLog(describeError(error)) });
      walker.walkHeldBackEntries(walked);
    }
  }

  /**
   * Lists the files beside the DICOMDIR `file` that none of its records
   * reference: the entries the walk held back, or for a DICOMDIR given by
   * path, the other entries of its folder. Returns the subfolders among them
   * that contain a DICOMDIR of their own, which the caller walks as media.
   */
  private listUnreferenced(walked: string, file: string, heldBack: string[], referencedFiles: readonly string[]): string[] {
    let entries = heldBack;
    if (entries.length === 0 && this.givenPaths.has(walked)) {
      const folder = path.dirname(file);
      try {
        entries = fs.readdirSync(folder).map((name) => path.join(folder, name));
      } catch (error) {
        // The referenced files were found in this folder, so a failure here is rare, and those files are still scanned.
        this.logger.warn('Failed to list the folder of a DICOMDIR to look for files it does not reference', { path: this.forLog(folder), error: this.forLog(describeError(error)) });
      }
    }
    if (entries.length === 0) return [];

    const { files: unreferenced, specialFiles, mediaFolders } = listUnreferencedFiles(file, entries, referencedFiles, this.walkOptions);
    // Listed as special files, as the walk of any folder lists them, so a FIFO beside a DICOMDIR is still reported.
    this.listSpecialFiles(specialFiles);
    if (unreferenced.count > 0) {
      this.unreferenced.push(unreferenced);
      this.logger.info('Files that the DICOMDIR does not reference were not scanned', {
        path: this.forLog(file),
        files: unreferenced.count,
        withDicmPrefix: unreferenced.dicomLike.length,
      });
    }
    return mediaFolders;
  }

  /**
   * Indexes one file where it is, inside the open batch transaction. A file
   * indexed in place at this path before is indexed again when its size or
   * modification time shows that it changed since. A file whose SOP Instance
   * UID is indexed with another file is a duplicate when their data set bytes
   * are equal. When they differ in two uncompressed transfer syntaxes, it
   * commits the batch and returns a promise of the outcome, because comparing
   * their values streams both files.
   */
  private indexInPlace(file: string, header: HeaderFacts, record: InstanceRecord): ScanOutcome | Promise<ScanOutcome> {
    const catalog = this.archive.catalog;
    const sopInstanceUid = record.instance.sopInstanceUid;
    const indexedAtPath = this.inPlaceUidsAt(file);
    if (indexedAtPath.some((uid) => uid !== sopInstanceUid)) {
      this.beginBatch();
      this.removeReplaced(file, sopInstanceUid, indexedAtPath);
    }
    const indexed = catalog.findInstance(sopInstanceUid);
    let outcome: ScanOutcome = 'stored';
    if (indexed?.path === file) {
      if (!indexedFileChanged(this.archive.catalog, indexed, header.fileSize)) return 'duplicate';
      this.beginBatch();
      this.logger.info('File indexed in place changed since it was indexed; indexing it again', { sopInstanceUid, path: this.forLog(file) });
      // Removed first, so the study and patient rows of the old content do not outlive it.
      catalog.removeInstance(sopInstanceUid);
      outcome = 'updated';
    } else if (indexed && fs.existsSync(indexed.path)) {
      const candidate: EncodedDataset = { path: file, datasetOffset: header.datasetOffset, transferSyntaxUid: record.instance.transferSyntaxUid };
      const comparison = compareBytesSync(indexed.path, candidate);
      if (comparison.kind === 'identical') return 'duplicate';
      if (comparison.kind !== 'undecided') return this.rejectDifferentContent(file, record, indexed);

      // Other promise chains (a C-STORE) may write to the index while this one waits, so they must not find the batch open.
      this.commitBatch();
      return compareDecodedValues(comparison.stored, candidate).then((decoded) => {
        if (decoded.kind !== 're-encoded') return this.rejectDifferentContent(file, record, indexed);
        this.logger.debug('File contains an indexed instance in another transfer syntax; counted as a duplicate', {
          sopInstanceUid,
          path: this.forLog(file),
          storedPath: indexed.path,
          storedTransferSyntaxUid: comparison.stored.transferSyntaxUid,
          fileTransferSyntaxUid: candidate.transferSyntaxUid,
        });
        return 'duplicate';
      });
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
      if (error instanceof OtherPatientError) {
        this.logger.warn('File is of another Patient ID than its indexed study or series; not indexed', { path: this.forLog(file), ...otherPatientFields(error.conflict) });
        this.listOtherPatient(file, error.conflict, 'not indexed');
        return 'conflict';
      }
      this.logger.warn('File conflicts with the index; not indexed', { sopInstanceUid, path: this.forLog(file), reason: this.forLog(error.message) });
      this.notIndexed.push({ path: file, reason: `not indexed: ${error.message}; correct the file's UIDs or remove it, and scan again` });
      return 'conflict';
    }
    this.inBatch++;
    return outcome;
  }

  /**
   * Lists `file` as not indexed, because the indexed file of its SOP Instance UID contains another data set,
   * under "other patient" when that instance's Patient ID differs, and returns 'conflict'.
   */
  private rejectDifferentContent(file: string, record: InstanceRecord, indexed: { path: string; patientId: string }): ScanOutcome {
    const sopInstanceUid = record.instance.sopInstanceUid;
    const storedPath = indexed.path;
    const otherPatient = otherPatientConflict('instance', indexed.patientId, record);
    if (otherPatient) {
      this.logger.warn('File is of another Patient ID than its indexed SOP Instance UID; not indexed', { path: this.forLog(file), storedPath, ...otherPatientFields(otherPatient) });
      this.listOtherPatient(file, otherPatient, 'not indexed');
      return 'conflict';
    }
    this.logger.warn('File has different content for an indexed SOP Instance UID; not indexed', {
      sopInstanceUid,
      path: this.forLog(file),
      storedPath,
    });
    this.notIndexed.push({
      path: file,
      reason:
        `not indexed: SOP Instance UID ${sopInstanceUid} is already indexed with the file ${storedPath}, whose data set differs; ` +
        'keep the right file, remove the other, and run "loader reindex"',
    });
    return 'conflict';
  }

  /** Copies one file into the archive and counts the outcome; never rejects. */
  private async importCopy(file: string, header: DicomFileHeader, record: InstanceRecord): Promise<void> {
    this.commitBatch();
    try {
      const sopInstanceUid = record.instance.sopInstanceUid;
      // The copy goes into the archive, but an in-place row of another instance at this path is as stale as in an in-place scan.
      this.removeReplaced(file, sopInstanceUid, this.inPlaceUidsAt(file));
      const indexed = this.archive.catalog.findInstance(sopInstanceUid);
      if (indexed?.inPlace && indexed.path === file && indexedFileChanged(this.archive.catalog, indexed, header.fileSize)) {
        // Otherwise the import would adopt this file's bytes but keep the row, and the patient, of its old content.
        this.logger.info('File indexed in place changed since it was indexed; importing it as new', { sopInstanceUid, path: this.forLog(file) });
        this.archive.catalog.removeInstance(sopInstanceUid);
      }
      const outcome = await this.archive.importCopy(file, header, record, this.options.redactLogText?.(file));
      this.count(outcome.outcome);
      this.studyUids.add(record.study.studyInstanceUid);
      if (record.hasLegacyCharacterSetText) this.legacyCharacterSetFiles++;
      if (outcome.outcome === 'stored') this.checkOtherPatient(file, record, this.lastStudyConflictId);
      if (outcome.otherPatient) {
        this.listOtherPatient(file, outcome.otherPatient, `kept aside as ${outcome.path}`);
      } else if (outcome.outcome === 'conflict') {
        this.notIndexed.push({
          path: file,
          reason:
            `kept aside as ${outcome.path}, because SOP Instance UID ${sopInstanceUid} is already stored with other content ` +
            'or its series belongs to another study; compare the two files and remove the wrong one',
        });
      }
    } catch (error) {
      this.recordFailure(file, error);
    }
    this.inBatch++;
  }

  /**
   * Returns the SOP Instance UIDs indexed in place at `file`: from the map read
   * when the scan started for files under the given paths, or through the
   * instances_path index for a file a symbolic link led to from outside them.
   */
  private inPlaceUidsAt(file: string): string[] {
    if (this.scannedRoots.some((root) => isInsideFolder(file, root))) return this.inPlaceUidsByPath.get(file) ?? [];
    return this.archive.catalog.findInPlaceInstancesAt(file);
  }

  /** Removes the in-place rows at `file` of instances other than `sopInstanceUid` and lists them as replaced. */
  private removeReplaced(file: string, sopInstanceUid: string, indexedAtPath: readonly string[]): void {
    if (indexedAtPath.every((uid) => uid === sopInstanceUid)) return;
    for (const previousSopInstanceUid of removeReplacedInstances(this.archive.catalog, file, sopInstanceUid, indexedAtPath, this.logger)) {
      this.replaced.push({
        path: file,
        previousSopInstanceUid,
        sopInstanceUid,
        reason:
          `indexed before as SOP Instance UID ${previousSopInstanceUid}, now contains SOP Instance UID ${sopInstanceUid}. ` +
          `The index entry of ${previousSopInstanceUid} was removed`,
      });
    }
  }

  /**
   * Removes the in-place rows at `file` after its content turned out damaged or
   * not DICOM, and lists them as replaced, because the file no longer contains
   * the instances they name. Unreadable files keep their rows, because a read
   * error (a scratched disc, a permission) may pass.
   */
  private removeRowsOfBrokenFile(file: string, error: unknown): void {
    const problem = unwrapFileError(error);
    if (isFileSystemError(problem)) return;
    const state = problem instanceof NotDicomError ? 'not a DICOM file' : 'damaged';

    for (const previousSopInstanceUid of this.inPlaceUidsAt(file)) {
      this.beginBatch();
      if (!this.archive.catalog.removeInPlaceInstanceAt(previousSopInstanceUid, file)) continue;
      this.logger.warn('Removed the index entry of an instance whose file, indexed in place, is now damaged or not DICOM', {
        path: this.forLog(file),
        previousSopInstanceUid,
      });
      this.replaced.push({
        path: file,
        previousSopInstanceUid,
        sopInstanceUid: '',
        reason: `indexed before as SOP Instance UID ${previousSopInstanceUid}, now ${state}. The index entry of ${previousSopInstanceUid} was removed`,
      });
    }
  }

  private count(outcome: ScanOutcome): void {
    if (outcome === 'updated') {
      this.counts.updated++;
    } else if (outcome === 'stored') {
      if (this.options.import) this.counts.imported++;
      else this.counts.indexed++;
    } else if (outcome === 'duplicate') {
      this.counts.duplicates++;
    } else {
      this.counts.conflicts++;
    }
  }

  /**
   * Lists `file` when indexing it recorded a study conflict after row `afterId`:
   * its Study Instance UID is indexed under another patient. Only the latest
   * conflict of the file is listed.
   */
  private checkOtherPatient(file: string, record: InstanceRecord, afterId: number): void {
    // Prepared once per scan: preparing it for each file took about 8% of a scan of 10 000 files in a CPU profile.
    this.studyConflictsQuery ??= this.archive.catalog.db.prepare(
      `SELECT id, stored_patient_id AS storedPatientId, received_patient_id AS filePatientId,
              stored_issuer_of_patient_id AS storedIssuer, received_issuer_of_patient_id AS fileIssuer FROM study_conflicts
       WHERE id > ? AND source = ? AND sop_instance_uid = ? ORDER BY id DESC LIMIT 1`,
    );
    const rows = this.studyConflictsQuery.all(afterId, file, record.instance.sopInstanceUid) as Array<{
      id: number;
      storedPatientId: string;
      filePatientId: string;
      storedIssuer: string;
      fileIssuer: string;
    }>;
    for (const row of rows) {
      const studyInstanceUid = record.study.studyInstanceUid;
      // A Patient ID that differs is rejected before indexing, so an equal one comes with another Issuer of Patient ID.
      const identity =
        row.storedPatientId === row.filePatientId && row.storedPatientId !== ''
          ? `indexed under patient ${quoteId(row.storedPatientId)} of issuer ${quoteId(row.storedIssuer)}, although the file names issuer ${quoteId(row.fileIssuer)}: ` +
            `Study Instance UID ${studyInstanceUid} is already indexed with the other Issuer of Patient ID (0010,0021). `
          : `indexed under patient ${quoteId(row.storedPatientId)}, although the file is of patient ${quoteId(row.filePatientId)}: ` +
            `Study Instance UID ${studyInstanceUid} is already indexed under ${quoteId(row.storedPatientId)}. `;
      this.otherPatient.push({
        path: file,
        studyInstanceUid,
        storedPatientId: row.storedPatientId,
        filePatientId: row.filePatientId,
        reason: identity + 'Check which patient the study belongs to; correct the Patient ID, its issuer or the Study Instance UID of the wrong files, then run "loader reindex"',
      });
    }
  }

  /** Lists `file`, which `what` happened to ('not indexed', 'kept aside as PATH'), because of `conflict`. */
  private listOtherPatient(file: string, conflict: OtherPatientConflict, what: string): void {
    this.otherPatient.push({
      path: file,
      studyInstanceUid: conflict.studyInstanceUid,
      storedPatientId: conflict.storedPatientId,
      filePatientId: conflict.receivedPatientId,
      reason:
        `${what}: ${describeOtherPatient(conflict)}, the Patient ID of the file. ` +
        'Check which patient the study belongs to, correct the Patient ID or the UIDs of the wrong files, and scan them again',
    });
  }

  private readLastStudyConflictId(): number {
    const row = this.archive.catalog.db.prepare('SELECT MAX(id) AS id FROM study_conflicts').get() as { id: number | null };
    return row.id ?? 0;
  }

  private recordFailure(file: string, error: unknown): void {
    const reason = describeFileProblem(file, error);
    if (unwrapFileError(error) instanceof NotDicomError) {
      this.notDicom.push({ path: file, reason });
      return;
    }
    if (isFileSystemError(unwrapFileError(error))) {
      this.unreadable.push({ path: file, reason: describeFileSystemError(file, unwrapFileError(error), 'file') });
      this.logger.warn('Skipped an unreadable file', { path: this.forLog(file), error: this.forLog(describeError(error)) });
      return;
    }
    this.damaged.push({ path: file, reason });
    const code = error instanceof ArchiveError ? error.code : undefined;
    this.logger.warn('Skipped a damaged file', { path: this.forLog(file), code, error: this.forLog(describeError(error)) });
  }

  private failedCount(): number {
    return this.notDicom.length + this.damaged.length + this.unreadable.length + this.missing.length + this.skippedRecords.length;
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

/** A store outcome, or 'updated' for a file indexed in place again because it changed. */
type ScanOutcome = StoreOutcomeKind | 'updated';


/** Returns the walk options that skip the archive's internal folders and index files (see ScanOptions.includeArchiveFolder). */
function archiveInternalEntries(archiveRoot: string): FileWalkerOptions {
  return {
    skipFolders: [incomingFolder(archiveRoot), conflictsFolder(archiveRoot), processesFolder(archiveRoot), trashFolder(archiveRoot)],
    skipName: (name, isDirectory) => !isDirectory && name.startsWith(INDEX_FILE),
  };
}

/** Returns the real paths of `paths`, leaving out those that cannot be resolved (the walk reports them). */
function realPathsOf(paths: readonly string[]): string[] {
  const realPaths: string[] = [];
  for (const given of paths) {
    try {
      realPaths.push(fs.realpathSync.native(given));
    } catch {
      continue;
    }
  }
  return realPaths;
}

/** Returns true when `file` is `folder` itself or lies below it; both are absolute real paths. */
function isInsideFolder(file: string, folder: string): boolean {
  if (file === folder) return true;
  const prefix = folder.endsWith(path.sep) ? folder : folder + path.sep;
  return file.startsWith(prefix);
}

/** Returns true for a Node file-system error (it has an errno code such as EACCES or ENOENT). */
function isFileSystemError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

function quoteId(patientId: string): string {
  return patientId === '' ? '(no Patient ID)' : `"${patientId}"`;
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
