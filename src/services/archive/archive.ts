/**
 * The local archive: DICOM files in a folder tree plus a SQLite index.
 * See layout.ts for the tree and schema.ts for the index.
 */

import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type Database from 'better-sqlite3';
import { DEFAULT_LEGACY_CHARACTER_SET, type LegacyCharacterSet } from '../../dicom/charset';
import { NotDicomError, readDicomFileHeader, type DicomFileHeader } from '../../dicom/file-reader';
import { DicomParseError } from '../../dicom/parser';
import { Tags } from '../../dicom/tags';
import { InvalidUidError } from '../../dicom/uid';
import { buildFileMetaInformation } from '../../dicom/writer';
import { createLogger, type Logger } from '../logger';
import { OTHERS_ANY, tightenFileMode } from '../private-files';
import {
  ArchiveCatalog,
  IndexConflictError,
  OtherPatientError,
  otherPatientConflict,
  type InstanceFilter,
  type StoredInstance,
  type StudyConflict,
  type StudySummary,
} from './catalog';
import { DEFAULT_ARCHIVE_DURABILITY, type ArchiveDurability } from './durability';
import { ArchiveError, describeError } from './errors';
import { fsyncFile, removeFileQuietly, exists } from './file-ops';
import { warnFileMetaElementsInDataset } from './file-meta-notice';
import { markArchiveUse, otherArchiveUsers } from './archive-users';
import { cleanUpIncoming, temporaryPath } from './incoming';
import {
  deleteFromArchive,
  finishInterruptedDeletions,
  planDeletion,
  type DeletionContext,
  type DeletionPlan,
  type DeletionReport,
  type DeletionSelection,
} from './deletion';
import { IndexWriteQueue } from './index-writer';
import { readInstanceRecord, type InstanceRecord } from './instance-record';
import { UNKNOWN_LEGACY_CHARACTER_SET_SOURCE, type LegacyCharacterSetSource } from './legacy-charset-notice';
import {
  FILE_MODE,
  FOLDER_MODE,
  conflictsFolder,
  incomingFolder,
  indexPath,
  requireValidUid,
} from './layout';
import {
  fileInfo,
  otherPatientFields,
  placeTemporaryFile,
  uidsOf,
  type FileSource,
  type PlacementContext,
  type StoreOutcome,
} from './placement';
import { receiveFile } from './received-file';
import { compareContent } from './same-content';
import { TemporaryFilePool, type TemporaryFile } from './temporary-file-pool';
import { indexedFileChanged, removeReplacedInstances } from './changed-file';
import { QueryEngine, type QueryKey, type QueryLevel, type QueryOptions, type StudySearchFilters } from './query';
import { reindexArchive, type ReindexReport } from './reindex';
import { scanPaths, type ScanOptions, type ScanReport } from './scan';
import { ensureSpaceReserve, freeBytesOf, releaseSpaceReserve, SPACE_RESERVE_BYTES } from './space-reserve';
import { describeFullFileSystem, describeWriteError, findReadOnlyReason, ReadOnlyArchiveError } from './read-only';
import { describeStorageFailure, isIndexDiskFull } from './storage-errors';
import { openIndexDatabase, openMemoryIndexDatabase, openReadOnlyIndexDatabase } from './schema';

export type { StoreOutcome } from './placement';

/** Outcome of receive() for one instance. */
export interface ReceiveOutcome extends StoreOutcome {
  /** True when a text value was decoded in the legacy character set; see InstanceRecord.hasLegacyCharacterSetText. */
  hasLegacyCharacterSetText: boolean;
}

/** One instance received by the C-STORE SCP. */
export interface ReceiveRequest {
  /** Affected SOP Class UID of the C-STORE request. */
  sopClassUid: string;
  /** Affected SOP Instance UID of the C-STORE request. */
  sopInstanceUid: string;
  /** Transfer syntax the data set is encoded in (the presentation context's). */
  transferSyntaxUid: string;
  /** Calling AE title of the association. */
  sourceAeTitle: string;
  /**
   * The data set bytes as received, without file meta information. They are
   * not read when a command UID is invalid; the caller drains or destroys the stream then.
   */
  data: Readable;
  implementationClassUid: string;
  implementationVersionName: string;
}

export interface ImportOptions {
  /** Copy the file into the archive layout; false indexes it where it is. */
  copy: boolean;
}

export interface OpenArchiveOptions {
  logger?: Logger;
  /** When a stored file and its index row are flushed to disk; see durability.ts. Default 'full'. */
  durability?: ArchiveDurability;
  /**
   * 'read-write' fails at once with ReadOnlyArchiveError when this process
   * may not write to the archive, for callers that store instances.
   * 'read-if-not-writable' (the default) opens such an archive read-only
   * instead, and then every method that writes raises ReadOnlyArchiveError.
   * 'read-if-disk-full' opens it read-only only when its file system is
   * full, for the server, which can still serve queries and retrievals.
   * 'delete' is 'read-write' for a deletion: when the file system is nearly
   * full, it removes the archive's space reserve (space-reserve.ts) to open,
   * and close() creates the reserve again where there is room. When the file
   * system was full, only deleteStudies writes, and other writes raise
   * ReadOnlyArchiveError for the full disk.
   * 'in-memory-index' writes nothing to the folder, for a disc or USB stick:
   * the index is a new database in memory that indexMediaInMemory fills,
   * and every store raises ReadOnlyArchiveError.
   */
  access?: ArchiveAccess;
  /**
   * Character set of names and descriptions in files that declare no Specific
   * Character Set (or only ISO_IR 6) and are not valid UTF-8. Default Latin-1.
   */
  legacyCharacterSet?: LegacyCharacterSet;
  /** Origin of legacyCharacterSet, which decides the level of the line about such text; default: the untouched default. */
  legacyCharacterSetSource?: LegacyCharacterSetSource;
}

export type ArchiveAccess = 'read-write' | 'read-if-disk-full' | 'read-if-not-writable' | 'delete' | 'in-memory-index';

/** readOnlyReason of an archive opened with access 'in-memory-index'. */
export const IN_MEMORY_INDEX_REASON = 'the folder is read from an index in memory, and nothing is written to it';

export class LocalArchive {
  readonly root: string;
  private db: Database.Database;
  private catalogInstance: ArchiveCatalog;
  private queryEngine: QueryEngine;
  private readonly logger: Logger;
  readonly durability: ArchiveDurability;
  /** Character set in which undeclared text that is not UTF-8 is indexed; see OpenArchiveOptions. */
  readonly legacyCharacterSet: LegacyCharacterSet;
  readonly legacyCharacterSetSource: LegacyCharacterSetSource;
  private readonly indexQueue: IndexWriteQueue;
  private readonly knownFolders = new Set<string>();
  private closed = false;
  /** Reason this process may only read the archive, or undefined when it may write. */
  readonly readOnlyReason: string | undefined;
  /** True when the archive is read-only because its file system is full or the disk quota is used up. */
  readonly diskFull: boolean;
  /** Reason that only deleteStudies may write: the file system was full when the archive opened with access 'delete'. */
  private readonly deleteOnlyReason: string | undefined;
  /** True when the open removed the space reserve, so that close() creates it again. */
  private readonly releasedSpaceReserve: boolean;
  /** True for access 'in-memory-index': the index lives in memory and the folder is never written. */
  readonly inMemoryIndex: boolean;
  /** Removes this process's 'open' marker (archive-users.ts); a no-op for a read-only archive, which has no marker. */
  private readonly releaseUse: () => void;
  /** Tail of the chain of operations per SOP Instance UID, so two stores of one UID never interleave. */
  private readonly uidLocks = new Map<string, Promise<unknown>>();
  /** Empty files for received instances, created ahead; see temporary-file-pool.ts. */
  private readonly temporaryFiles: TemporaryFilePool;

  /**
   * Opens the archive at `root`, creating the folders and the index when
   * missing, and cleans up .incoming after stopped processes (incoming.ts).
   * An existing archive that this process may not write is opened read-only,
   * unless `access` is 'read-write'. A read-only archive gets no process
   * marker, its .incoming is not cleaned up and its index is not upgraded.
   *
   * @throws ArchiveError with code 'in-use' while `loader reindex` rebuilds its index.
   * @throws ReadOnlyArchiveError when `access` is 'read-write' and the archive is read-only.
   */
  static open(root: string, options: OpenArchiveOptions = {}): LocalArchive {
    return new LocalArchive(
      path.resolve(root),
      options.logger ?? createLogger('loader.archive'),
      options.durability ?? DEFAULT_ARCHIVE_DURABILITY,
      options.access ?? 'read-if-not-writable',
      options.legacyCharacterSet ?? DEFAULT_LEGACY_CHARACTER_SET,
      options.legacyCharacterSetSource ?? UNKNOWN_LEGACY_CHARACTER_SET_SOURCE,
    );
  }

  private constructor(
    root: string,
    logger: Logger,
    durability: ArchiveDurability,
    access: ArchiveAccess,
    legacyCharacterSet: LegacyCharacterSet,
    legacyCharacterSetSource: LegacyCharacterSetSource,
  ) {
    this.root = root;
    this.logger = logger;
    this.durability = durability;
    this.legacyCharacterSet = legacyCharacterSet;
    this.legacyCharacterSetSource = legacyCharacterSetSource;
    // 'process-crash' defers the rows of received files (see index-writer.ts) and commits other rows at once.
    this.indexQueue = new IndexWriteQueue(() => this.catalogInstance, logger, { groupCommits: durability === 'full' });
    this.temporaryFiles = new TemporaryFilePool(root, logger);

    this.inMemoryIndex = access === 'in-memory-index';
    const opened = this.inMemoryIndex ? { readOnlyReason: IN_MEMORY_INDEX_REASON, release: () => undefined } : openArchiveUse(root, logger, access);
    this.readOnlyReason = opened.readOnlyReason;
    this.diskFull = opened.diskFull === true;
    this.deleteOnlyReason = opened.deleteOnlyReason;
    this.releasedSpaceReserve = opened.releasedSpaceReserve === true;
    this.releaseUse = opened.release;
    try {
      const reindexing = otherArchiveUsers(root, 'reindex');
      if (reindexing.length > 0) {
        throw new ArchiveError(
          'in-use',
          `The archive ${root} is being reindexed by process ${reindexing.join(', ')}; wait until that loader reindex finishes, then try again`,
        );
      }
      this.db = this.openIndex();
    } catch (error) {
      this.releaseUse();
      throw error;
    }
    this.catalogInstance = new ArchiveCatalog(this.db, root, logger);
    this.queryEngine = new QueryEngine(this.db);
    if (this.readOnlyReason === undefined) {
      cleanUpIncoming(root, this.catalogInstance, logger, legacyCharacterSet);
      finishInterruptedDeletions(root, (sopInstanceUid) => this.catalogInstance.findInstance(sopInstanceUid) !== undefined, logger);
      if (!this.releasedSpaceReserve) ensureSpaceReserve(root, logger);
    } else if (this.inMemoryIndex) {
      logger.info('Opened the folder with an index in memory; nothing is written to it', { root });
    } else if (this.diskFull) {
      logger.warn('Opened the archive read-only because its disk is full, so storing or indexing instances fails until space is freed and the archive is opened again', { root, reason: this.readOnlyReason });
    } else {
      logger.warn('Opened the archive read-only, so storing or indexing instances in it fails', { root, reason: this.readOnlyReason });
    }
    logger.debug('Opened archive', { root, durability, readOnly: this.readOnlyReason !== undefined });
  }

  /** The index, for the scan and for callers that read it directly, with every queued row committed. */
  get catalog(): ArchiveCatalog {
    this.assertOpen();
    this.commitQueuedRows();
    return this.catalogInstance;
  }

  /**
   * Stores one instance received over the network; see placement.ts for the
   * stored, duplicate and conflict outcomes. When this resolves, the file and
   * its index row have the durability set by `durability`. In
   * 'process-crash' the row may still be queued (index-writer.ts), and this
   * archive's readers commit it before they read. On any error the temporary
   * file is deleted and no stored file or index row changes.
   *
   * @throws ArchiveError with code 'invalid-uid', 'missing-attribute',
   *   'uid-mismatch', 'unreadable', 'io' or 'index'.
   */
  async receive(request: ReceiveRequest): Promise<ReceiveOutcome> {
    this.assertWritable();
    const sopInstanceUid = requireValidUid(request.sopInstanceUid, 'Affected SOP Instance UID (0000,1000)');
    requireValidUid(request.sopClassUid, 'Affected SOP Class UID (0000,0002)');
    requireValidUid(request.transferSyntaxUid, 'Transfer Syntax UID (0002,0010)');

    const fail = (error: unknown, file?: string): ArchiveError => {
      const archiveError = toArchiveError(error, `Failed to store ${sopInstanceUid}`, file);
      // The C-STORE provider logs the failure with the association's AE titles.
      this.logger.debug('Failed to store received instance', {
        sopInstanceUid,
        sourceAeTitle: request.sourceAeTitle,
        code: archiveError.code,
        error: archiveError.message,
      });
      return archiveError;
    };

    let meta: Buffer;
    let file: TemporaryFile;
    try {
      meta = buildFileMetaInformation({
        mediaStorageSopClassUid: request.sopClassUid,
        mediaStorageSopInstanceUid: sopInstanceUid,
        transferSyntaxUid: request.transferSyntaxUid,
        implementationClassUid: request.implementationClassUid,
        implementationVersionName: request.implementationVersionName,
        sourceApplicationEntityTitle: request.sourceAeTitle || undefined,
      });
      file = this.temporaryFiles.take(sopInstanceUid);
    } catch (error) {
      throw fail(error);
    }

    try {
      // receiveFile closes the descriptor, also when it fails.
      const written = await receiveFile(file.path, meta, request.data, {
        fsync: this.durability === 'full',
        fd: file.fd,
        transferSyntaxUid: request.transferSyntaxUid,
        interpret: (header) => readInstanceRecord(header, this.legacyCharacterSet),
      });

      const header = written.header ?? (await readHeader(file.path));
      const record = written.interpreted ?? readInstanceRecord(header, this.legacyCharacterSet);
      checkCommandMatchesDataset(request, header, record);

      const source: FileSource = { sourceAeTitle: request.sourceAeTitle, description: `AE ${request.sourceAeTitle}` };
      const outcome = await this.withUidLock(sopInstanceUid, () =>
        placeTemporaryFile(this.placementContext({ deferIndex: this.durability === 'process-crash' }), file.path, header, record, source, written.size),
      );
      warnFileMetaElementsInDataset(this.logger, header, { callingAeTitle: request.sourceAeTitle, sopInstanceUid, path: outcome.path });
      return { ...outcome, hasLegacyCharacterSetText: record.hasLegacyCharacterSetText === true };
    } catch (error) {
      await removeFileQuietly(file.path);
      throw fail(error, file.path);
    }
  }

  /**
   * Indexes a DICOM file from disk. With `copy` the bytes are copied verbatim
   * into the archive layout (temporary file, then link), with the duplicate
   * and conflict rules of receive(). Without `copy` the file is indexed where
   * it is (in_place = 1); a different file with an indexed UID is a conflict
   * and is not indexed. Without `copy`, the in-place row of another instance
   * at this path is removed, because the file now contains this one.
   */
  async importFile(file: string, options: ImportOptions): Promise<StoreOutcome> {
    this.assertWritable();
    const absolutePath = path.resolve(file);
    const header = await readHeader(absolutePath);
    const record = readInstanceRecord(header, this.legacyCharacterSet);
    return options.copy ? this.importCopy(absolutePath, header, record) : this.importInPlace(absolutePath, header, record);
  }

  /** Returns the absolute path of an indexed instance, or undefined. The file may be gone from disk. */
  getInstancePath(sopInstanceUid: string): string | undefined {
    return this.catalog.findInstance(sopInstanceUid)?.path;
  }

  /** Lists indexed instances matching every given filter, for C-MOVE and C-GET. */
  listInstances(filter: InstanceFilter = {}): StoredInstance[] {
    return this.catalog.listInstances(filter);
  }

  /**
   * Removes an instance from the index and, unless it was indexed in place,
   * deletes its file. Returns false when the UID is not indexed.
   */
  async removeInstance(sopInstanceUid: string): Promise<boolean> {
    this.assertWritable();
    return this.withUidLock(sopInstanceUid, async () => {
      const indexed = this.catalog.findInstance(sopInstanceUid);
      if (!indexed) return false;
      this.catalog.removeInstance(sopInstanceUid);
      if (!indexed.inPlace) await removeFileQuietly(indexed.path);
      this.logger.info('Removed instance', { sopInstanceUid, path: indexed.path, inPlace: indexed.inPlace });
      return true;
    });
  }

  /** Returns what deleteStudies would delete now for `selection`, for a preview; see deletion.ts. */
  planDeletion(selection: DeletionSelection): Promise<DeletionPlan> {
    return planDeletion(this.deletionContext(), selection);
  }

  /**
   * Deletes the studies and series of `plan` from the index, the archive
   * folder and .conflicts. deletion.ts describes the steps, and what a crash
   * or a concurrent store leaves.
   */
  deleteStudies(plan: DeletionPlan): Promise<DeletionReport> {
    this.assertOpen();
    if (this.readOnlyReason !== undefined) throw new ReadOnlyArchiveError(this.root, this.readOnlyReason, { diskFull: this.diskFull });
    return deleteFromArchive(this.deletionContext(), plan);
  }

  private deletionContext(): DeletionContext {
    return { root: this.root, catalog: this.catalog, logger: this.logger, durability: this.durability };
  }

  listStudyConflicts(studyInstanceUid?: string): StudyConflict[] {
    return this.catalog.listStudyConflicts(studyInstanceUid);
  }

  summarizeStudies(studyInstanceUids: Iterable<string>): StudySummary[] {
    return this.catalog.summarizeStudies(studyInstanceUids);
  }

  /** C-FIND matching; see QueryEngine.findRecords in query.ts. */
  findRecords(level: QueryLevel, keys: QueryKey[], options: QueryOptions): IterableIterator<Record<string, string>> {
    this.assertOpen();
    this.commitQueuedRows();
    return this.queryEngine.findRecords(level, keys, options);
  }

  /** Same as findRecords; the name the C-FIND service calls. */
  query(level: QueryLevel, keys: QueryKey[], options: QueryOptions): IterableIterator<Record<string, string>> {
    return this.findRecords(level, keys, options);
  }

  /** Study search of `loader studies`; see query.ts. */
  searchStudies(filters: StudySearchFilters): StudySummary[] {
    this.assertOpen();
    this.commitQueuedRows();
    return this.queryEngine.searchStudies(filters);
  }

  /** Walks folders and indexes or imports the DICOM files found; see scan.ts. */
  async scanPaths(paths: string[], options: ScanOptions): Promise<ScanReport> {
    this.assertWritable();
    return scanPaths(this, paths, options);
  }

  /**
   * Indexes the DICOM files under the folder of an archive opened with access
   * 'in-memory-index' into its index in memory, in place, reading DICOMDIR
   * files and headers only, so nothing is written to the folder.
   */
  async indexMediaInMemory(options: Pick<ScanOptions, 'onProgress' | 'signal'> = {}): Promise<ScanReport> {
    this.assertOpen();
    if (!this.inMemoryIndex) throw new ArchiveError('io', `The archive ${this.root} keeps its index in the folder; use scanPaths to index it`);
    return scanPaths(this, [this.root], { ...options, import: false, includeArchiveFolder: true });
  }

  /**
   * Rebuilds the index from the folder tree; see reindex.ts. The database is
   * closed during the rebuild, so no other call may run meanwhile.
   */
  async reindex(): Promise<ReindexReport> {
    this.assertWritable();
    this.indexQueue.flush();
    this.db.close();
    try {
      return await reindexArchive(this.root, { logger: this.logger, legacyCharacterSet: this.legacyCharacterSet });
    } finally {
      this.db = this.openIndex();
      this.catalogInstance = new ArchiveCatalog(this.db, this.root, this.logger);
      this.queryEngine = new QueryEngine(this.db);
    }
  }

  /** Runs `operation` after every earlier operation on the same SOP Instance UID has settled. */
  withUidLock<T>(sopInstanceUid: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.uidLocks.get(sopInstanceUid) ?? Promise.resolve();
    const result = previous.then(operation, operation);
    const tail = result.catch(() => undefined);
    this.uidLocks.set(sopInstanceUid, tail);
    void tail.then(() => {
      if (this.uidLocks.get(sopInstanceUid) === tail) this.uidLocks.delete(sopInstanceUid);
    });
    return result;
  }

  /** Returns a fresh path in .incoming for a transfer of this UID; see incoming.ts. */
  temporaryPath(sopInstanceUid: string): string {
    this.assertWritable();
    return temporaryPath(this.root, sopInstanceUid);
  }

  /** Returns the context of placeTemporaryFile. Its catalog reads skip the commit of queued rows, because placement checks the queue itself. */
  placementContext(options: { deferIndex: boolean } = { deferIndex: false }): PlacementContext {
    this.assertWritable();
    return {
      root: this.root,
      catalog: this.catalogInstance,
      logger: this.logger,
      durability: this.durability,
      indexQueue: this.indexQueue,
      knownFolders: this.knownFolders,
      deferIndex: options.deferIndex,
    };
  }

  /** Commits queued index rows, so that a read of the index returns every stored instance. */
  private commitQueuedRows(): void {
    if (this.indexQueue.hasQueuedRows && !this.catalogInstance.db.inTransaction) this.indexQueue.flush();
  }

  /** Closes the index after committing queued index rows. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.temporaryFiles.close();
    this.indexQueue.flush();
    this.indexQueue.flushLog();
    this.db.close();
    // The reserve removed at open comes back where the space allows, also after a command that deleted nothing.
    if (this.releasedSpaceReserve) ensureSpaceReserve(this.root, this.logger);
    this.releaseUse();
    this.logger.debug('Closed archive', { root: this.root });
  }

  /**
   * Opens the index. In 'full' durability every commit also flushes the
   * write-ahead log (synchronous = FULL). 'process-crash' keeps the schema's
   * synchronous = NORMAL, where a commit survives a crash of this process but
   * not a power loss.
   */
  private openIndex(): Database.Database {
    if (this.inMemoryIndex) return openMemoryIndexDatabase();
    if (this.readOnlyReason !== undefined) return openReadOnlyIndexDatabase(indexPath(this.root));
    const file = indexPath(this.root);
    for (const part of [file, `${file}-wal`, `${file}-shm`]) tightenFileMode(part, OTHERS_ANY, this.logger);
    let db: Database.Database;
    try {
      db = openIndexDatabase(file);
    } catch (error) {
      // Opening writes the write-ahead log and its shared memory file, which fails on a full disk with "disk I/O error".
      if (isIndexDiskFull(error, file)) throw new ReadOnlyArchiveError(this.root, describeFullFileSystem(this.root, 'space'), { cause: error, diskFull: true });
      throw error;
    }
    if (this.durability === 'full') db.pragma('synchronous = FULL');
    return db;
  }

  private assertOpen(): void {
    if (this.closed) throw new ArchiveError('closed', `The archive ${this.root} is closed; open it again with LocalArchive.open()`);
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.readOnlyReason !== undefined) throw new ReadOnlyArchiveError(this.root, this.readOnlyReason, { diskFull: this.diskFull });
    if (this.deleteOnlyReason !== undefined) throw new ReadOnlyArchiveError(this.root, this.deleteOnlyReason, { diskFull: true });
  }

  /**
   * Copies a file whose header the caller has already read; used by importFile and the scan.
   * `logDescription` replaces the path in log lines, for a path that repeats a patient's name.
   */
  async importCopy(absolutePath: string, header: DicomFileHeader, record: InstanceRecord, logDescription?: string): Promise<StoreOutcome> {
    const source: FileSource = { sourceAeTitle: '', description: absolutePath, logDescription };
    const sopInstanceUid = record.instance.sopInstanceUid;
    const tempPath = this.temporaryPath(sopInstanceUid);
    try {
      await fsp.copyFile(absolutePath, tempPath, fs.constants.COPYFILE_EXCL);
      await fsp.chmod(tempPath, FILE_MODE);
      if (this.durability === 'full') await fsyncFile(tempPath);
      return await this.withUidLock(sopInstanceUid, () =>
        placeTemporaryFile(this.placementContext(), tempPath, header, record, source),
      );
    } catch (error) {
      await removeFileQuietly(tempPath);
      throw toArchiveError(error, `Failed to import ${absolutePath}`);
    }
  }

  private importInPlace(absolutePath: string, header: DicomFileHeader, record: InstanceRecord): Promise<StoreOutcome> {
    const uids = uidsOf(record);
    const source: FileSource = { sourceAeTitle: '', description: absolutePath };
    return this.withUidLock(uids.sopInstanceUid, async () => {
      const size = (await fsp.stat(absolutePath)).size;
      removeReplacedInstances(this.catalog, absolutePath, uids.sopInstanceUid, this.catalog.findInPlaceInstancesAt(absolutePath), this.logger);
      const indexed = this.catalog.findInstance(uids.sopInstanceUid);
      if (indexed?.path === absolutePath) {
        if (!indexedFileChanged(this.catalog, indexed, size)) return { outcome: 'duplicate', path: absolutePath, size, ...uids };
        // Removed first, so the study and patient rows of the old content do not outlive it.
        this.logger.info('File indexed in place changed since it was indexed; indexing it again', { sopInstanceUid: uids.sopInstanceUid, path: absolutePath });
        this.catalog.removeInstance(uids.sopInstanceUid);
        return this.indexInPlace(record, absolutePath, size, source);
      }

      const existing = indexed && (await exists(indexed.path)) ? indexed.path : undefined;
      if (existing !== undefined) {
        if ((await compareContent(existing, absolutePath, header)).kind !== 'different') {
          return { outcome: 'duplicate', path: existing, size: indexed!.size, ...uids };
        }
        const otherPatient = otherPatientConflict('instance', indexed!.patientId, record);
        this.logger.warn('File has different content for an indexed SOP Instance UID; not indexed', {
          sopInstanceUid: uids.sopInstanceUid,
          path: absolutePath,
          storedPath: existing,
          ...(otherPatient ? otherPatientFields(otherPatient) : {}),
        });
        return { outcome: 'conflict', path: absolutePath, size, ...uids, ...(otherPatient ? { otherPatient } : {}) };
      }

      return this.indexInPlace(record, absolutePath, size, source);
    });
  }

  /**
   * Indexes `absolutePath` where it is. A file whose UID conflicts with the
   * index, including a study or series of another Patient ID, is not indexed
   * and returns 'conflict'.
   */
  private indexInPlace(record: InstanceRecord, absolutePath: string, size: number, source: FileSource): StoreOutcome {
    const uids = uidsOf(record);
    try {
      this.catalog.addInstance(record, fileInfo(absolutePath, true, size, source), source.description, { rejectConflicts: true });
    } catch (error) {
      if (!(error instanceof IndexConflictError)) throw error;
      const otherPatient = error instanceof OtherPatientError ? error.conflict : undefined;
      this.logger.warn('File conflicts with the index; not indexed', {
        sopInstanceUid: uids.sopInstanceUid,
        path: absolutePath,
        reason: error.message,
        ...(otherPatient ? otherPatientFields(otherPatient) : {}),
      });
      return { outcome: 'conflict', path: absolutePath, size, ...uids, ...(otherPatient ? { otherPatient } : {}) };
    }
    return { outcome: 'stored', path: absolutePath, size, ...uids };
  }
}

/**
 * Prepares the archive at `root` for use by this process. For writing, it
 * creates the folders and this process's marker (archive-users.ts). An
 * existing archive that this process may not write gets neither, and the
 * returned reason explains it. With `access` 'read-write' such an archive
 * raises ReadOnlyArchiveError instead, and so does 'read-if-disk-full'
 * unless the file system is full. With 'delete', a file system with less
 * than SPACE_RESERVE_BYTES free costs the archive its space reserve. When
 * the file system was full, the returned deleteOnlyReason says so.
 */
function openArchiveUse(
  root: string,
  logger: Logger,
  access: ArchiveAccess,
): { readOnlyReason?: string; diskFull?: boolean; deleteOnlyReason?: string; releasedSpaceReserve?: boolean; release: () => void } {
  let readOnlyReason = findReadOnlyReason(root);
  let diskFull = false;
  if (readOnlyReason === undefined) {
    const existed = fs.existsSync(root);
    try {
      createArchiveFolders(root, logger);
      // The marker comes first, so a reindex that starts meanwhile finds it and refuses.
      const release = markArchiveUse(root, 'open');
      // Opening the index writes its shared memory file, which fails when the disk is nearly full.
      const free = access === 'delete' ? freeBytesOf(root) : undefined;
      const releasedSpaceReserve = free !== undefined && free < SPACE_RESERVE_BYTES && releaseSpaceReserve(root, logger);
      return { releasedSpaceReserve, release };
    } catch (error) {
      // access(2) in findReadOnlyReason can pass where the write itself is denied, so a denied write also means read-only.
      if (!(error instanceof ReadOnlyArchiveError) || !existed) throw error;
      readOnlyReason = error.reason;
      diskFull = error.diskFull;
    }
  }
  if (access === 'delete' && diskFull && releaseSpaceReserve(root, logger)) {
    try {
      return { deleteOnlyReason: readOnlyReason, releasedSpaceReserve: true, release: markArchiveUse(root, 'open') };
    } catch (error) {
      ensureSpaceReserve(root, logger);
      throw error;
    }
  }
  if (access === 'read-write' || access === 'delete' || (access === 'read-if-disk-full' && !diskFull)) throw new ReadOnlyArchiveError(root, readOnlyReason, { diskFull });
  return { readOnlyReason, diskFull, release: () => undefined };
}

/**
 * Creates the archive root and its internal folders where missing, and logs
 * when the root itself is new.
 */
function createArchiveFolders(root: string, logger: Logger): void {
  const isNew = !fs.existsSync(root);
  for (const folder of [root, incomingFolder(root), conflictsFolder(root)]) createFolder(folder, root);
  if (isNew) logger.info('Created a new archive', { root });
}

/**
 * Creates `folder` and its missing parents one level at a time. Node's
 * recursive mkdirSync reports ENOENT when a parent is on a read-only file
 * system (seen with Node 20), so each level is created alone to surface the
 * real EROFS or EACCES.
 */
function createFolder(folder: string, root: string): void {
  try {
    if (fs.statSync(folder).isDirectory()) return;
  } catch {
    // Missing, so created below. Other stat failures show up in mkdirSync's error.
  }
  const parent = path.dirname(folder);
  if (parent !== folder) createFolder(parent, root);
  try {
    fs.mkdirSync(folder, { mode: FOLDER_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new ArchiveError(
      'io',
      `Failed to create the archive folder ${folder}: ${describeWriteError(error)}. ` +
        `Choose a writable archive folder with --archive or LOADER_ARCHIVE instead of ${root}, or make ${path.dirname(folder)} writable.`,
      { cause: error },
    );
  }
}

/** Reads a file header, mapping parse failures to 'unreadable' and file system failures to 'io'. */
export async function readHeader(file: string): Promise<DicomFileHeader> {
  try {
    return await readDicomFileHeader(file);
  } catch (error) {
    throw toArchiveError(error, `Failed to read ${file}`);
  }
}

function checkCommandMatchesDataset(request: ReceiveRequest, header: DicomFileHeader, record: InstanceRecord): void {
  if (record.instance.sopInstanceUid !== request.sopInstanceUid) {
    throw new ArchiveError(
      'uid-mismatch',
      `The data set's SOP Instance UID ${record.instance.sopInstanceUid} differs from the command's ${request.sopInstanceUid}`,
    );
  }
  const datasetSopClass = header.dataset.getString(Tags.SOPClassUID);
  if (datasetSopClass && datasetSopClass !== request.sopClassUid) {
    throw new ArchiveError(
      'uid-mismatch',
      `The data set's SOP Class UID ${datasetSopClass} differs from the command's ${request.sopClassUid}`,
    );
  }
}

/**
 * Wraps any failure into an ArchiveError, keeping codes of ArchiveErrors. A
 * full disk, a file size limit, a denied or read-only folder gets its cause
 * and remedy (storage-errors.ts); `file` is the file being written, for errors
 * that name no path.
 */
export function toArchiveError(error: unknown, context: string, file?: string): ArchiveError {
  if (error instanceof ArchiveError) return error;
  if (error instanceof InvalidUidError) {
    return new ArchiveError('invalid-uid', `${context}: ${error.message}`, { cause: error });
  }
  if (error instanceof NotDicomError || error instanceof DicomParseError) {
    return new ArchiveError('unreadable', `${context}: ${error.message}`, { cause: error });
  }
  const failure = describeStorageFailure(error, file);
  if (failure !== undefined) return new ArchiveError('io', `${context}: ${failure.detail}`, { cause: error, summary: failure.comment });
  return new ArchiveError('io', `${context}: ${describeError(error)}`, { cause: error });
}
