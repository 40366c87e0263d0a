/**
 * Download of remote files and folders into a local staging folder.
 *
 * Layout of the staging folder: files/ mirrors the absolute remote path of
 * every downloaded file, and partial/ keeps "NAME.part" with the bytes received
 * so far and "NAME.part.json" with the remote size and date modified they
 * belong to. After a dropped connection the job reconnects with back-off and
 * continues each .part file from its size. A .part file whose remote file has
 * changed in the meantime starts again from zero.
 *
 * When a file's size or date modified after the copy differs from the values
 * read before it, the workstation was writing the file, and the copy may mix
 * old and new bytes. The file is then downloaded again from zero, and reported
 * as failed when it keeps changing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Stats } from 'ssh2';

import { formatSize } from '../format-size';
import { createLogger } from '../logger';
import { makePrivateFolder } from '../private-files';
import type { SshSession } from './connection';
import { describeEndpoint, describeSftpError, errorText, isRemoteFileError, SshError } from './errors';
import { endpointFields, remoteFileFields, remotePathHash } from './log-fields';
import { checkLinkTarget, checkRemoteName, localPathInside, quoteRemoteName } from './remote-names';
import { closeHandle, fstat, lstat, openForReading, readAt, readdir, realpath, stat } from './sftp';

const log = createLogger('loader.ssh').child('download');

export const DEFAULT_PARALLEL_TRANSFERS = 4;
export const DEFAULT_RECONNECT_ATTEMPTS = 5;
/** Bytes per SFTP read request; ssh2 splits a request that exceeds the server's maximum read length. */
const READ_CHUNK_BYTES = 256 * 1024;
/** Read requests in flight per file, so one file's transfer does not wait a round trip per chunk. */
const READS_IN_FLIGHT = 4;
/** Downloads of one file, the first included, before a file that changes during each of them is reported as failed. */
const CHANGED_FILE_ATTEMPTS = 3;
/** Wait before downloading a changed file again, multiplied by the attempt number, so that the writer can finish. */
const CHANGED_FILE_WAIT_MS = 1000;

export interface DownloadOptions {
  /** Local folder for files/ and partial/; created when missing. */
  stagingDir: string;
  /** Files transferred at the same time over one connection (default 4). */
  parallel?: number;
  /** Reconnects tried in a row without progress before the job fails (default 5). */
  reconnectAttempts?: number;
  /** Wait before the first reconnect, doubled after each failed one (default 1000 ms). */
  initialBackoffMs?: number;
  /** Upper bound of the wait between reconnects (default 30000 ms). */
  maxBackoffMs?: number;
  onProgress?: (progress: DownloadProgress) => void;
  /**
   * Stops the download when aborted: no new file starts, a file being
   * transferred keeps its .part file for the next run, and the report has
   * cancelled set.
   */
  signal?: AbortSignal;
}

export interface DownloadProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Remote path of the file that received bytes last. */
  currentPath: string;
}

/** A remote item that was not downloaded, with the reason. */
export interface RemoteProblem {
  remotePath: string;
  reason: string;
}

export interface DownloadedFile {
  remotePath: string;
  localPath: string;
  size: number;
  /** Offset the last transfer of this file continued from; 0 when it started at the beginning. */
  resumedFrom: number;
  /** True when a complete copy was already staged by an earlier run and nothing was transferred. */
  alreadyStaged: boolean;
}

export interface DownloadReport {
  files: DownloadedFile[];
  /** Unsafe names, symbolic links that lead out of the chosen folder, and items that are not regular files or folders. */
  rejected: RemoteProblem[];
  /** Items that could not be read, e.g. permission denied. */
  failed: RemoteProblem[];
  /**
   * Local counterparts of the given remote paths (a folder below files/ or a
   * file) that exist after the download, for the import.
   */
  stagedPaths: string[];
  /** Times the connection was opened again after it was lost. */
  reconnects: number;
  bytesTransferred: number;
  /** True when options.signal stopped the download. */
  cancelled: boolean;
  /** Remote paths of the files that a cancelled download did not finish; partial ones continue in the next run. */
  notDownloaded: string[];
}

/** A file to download: the remote path to read and the local path names below files/. */
interface PlannedFile {
  remotePath: string;
  localNames: string[];
  size: number;
}

/** Raised for a local write failure, which a reconnect cannot fix. */
class LocalWriteError extends Error {}

/** Raised inside a transfer when options.signal is aborted. */
class DownloadCancelled extends Error {}

/** Raised when the remote file changed while it was copied; the message names the attributes that changed. */
class RemoteFileChangedError extends Error {}

/** Creates a new connection; called for the first connection and for every reconnect. */
export type SessionFactory = () => Promise<SshSession>;

function isConnectionLoss(error: unknown, session: SshSession): boolean {
  if (error instanceof LocalWriteError || error instanceof DownloadCancelled) return false;
  if (error instanceof SshError) return error.code === 'connection-lost';
  return session.isClosed || !isRemoteFileError(error);
}

/** Splits an absolute remote path into its names; raises when one of them is unsafe as a local path component. */
function remotePathNames(remotePath: string): string[] {
  const names = remotePath.split('/').filter((name) => name !== '');
  for (const name of names) {
    const reason = checkRemoteName(name);
    if (reason !== undefined) throw new UnsafeNameError(`${quoteRemoteName(name)} in ${quoteRemoteName(remotePath)}: ${reason}`);
  }
  return names;
}

class UnsafeNameError extends Error {}

/** Walks the given remote paths and collects the files to download and the items rejected on the way. */
class Planner {
  readonly files = new Map<string, PlannedFile>();
  readonly rejected: RemoteProblem[] = [];
  readonly failed: RemoteProblem[] = [];
  /** Local names below files/ of each given path that was planned. */
  readonly roots: string[][] = [];
  private readonly visitedFolders = new Set<string>();

  constructor(private readonly session: SshSession) {}

  async planPath(given: string): Promise<void> {
    const sftp = this.session.sftp;
    let real: string;
    let target: Stats;
    try {
      real = await realpath(sftp, given);
      target = await stat(sftp, real);
    } catch (error) {
      if (!isRemoteFileError(error)) throw error;
      this.failed.push({ remotePath: given, reason: describeSftpError(error, given, this.session.endpoint).message });
      return;
    }
    let names: string[];
    try {
      names = remotePathNames(real);
    } catch (error) {
      this.rejected.push({ remotePath: given, reason: `unsafe name ${(error as Error).message}` });
      return;
    }
    if (target.isDirectory()) {
      // A given folder that is a symbolic link must lead inside the folder that contains the link, as `ssh ls` marks it.
      if (await this.isLinkOutOfFolder(given, real)) return;
      this.roots.push(names);
      await this.planFolder(real, real, names);
    } else if (target.isFile()) {
      // A given file that is a symbolic link must lead to a file inside the folder that contains the link.
      const givenFolder = await realpath(sftp, path.posix.dirname(given)).catch(() => path.posix.dirname(real));
      if (checkLinkTarget(givenFolder, real) !== undefined) {
        this.rejected.push({ remotePath: given, reason: `symbolic link to ${quoteRemoteName(real)}, outside ${quoteRemoteName(givenFolder)}` });
        return;
      }
      this.roots.push(names);
      this.addFile(real, names, target.size);
    } else {
      this.rejected.push({ remotePath: given, reason: 'not a regular file or folder' });
    }
  }

  /**
   * Returns true, and records the rejection, when the given path is itself a
   * symbolic link that leads out of the folder containing it.
   */
  private async isLinkOutOfFolder(given: string, real: string): Promise<boolean> {
    const sftp = this.session.sftp;
    const isLink = await lstat(sftp, given).then((stats) => stats.isSymbolicLink(), () => false);
    if (!isLink) return false;
    const givenFolder = await realpath(sftp, path.posix.dirname(given)).catch(() => path.posix.dirname(real));
    if (checkLinkTarget(givenFolder, real) === undefined) return false;
    this.rejected.push({ remotePath: given, reason: `symbolic link to ${quoteRemoteName(real)}, outside ${quoteRemoteName(givenFolder)}` });
    return true;
  }

  private addFile(remotePath: string, localNames: string[], size: number): void {
    const key = localNames.join('/');
    if (!this.files.has(key)) this.files.set(key, { remotePath, localNames, size });
  }

  /**
   * Adds the files below `folder` (a resolved path inside `root`). Symbolic
   * links are followed only when their target resolves inside `root`, and
   * every folder is entered once, so link loops end.
   */
  private async planFolder(root: string, folder: string, localNames: string[]): Promise<void> {
    if (this.visitedFolders.has(folder)) {
      this.rejected.push({ remotePath: folder, reason: 'folder already included through another path (a symbolic link)' });
      return;
    }
    this.visitedFolders.add(folder);
    const sftp = this.session.sftp;
    let list;
    try {
      list = await readdir(sftp, folder);
    } catch (error) {
      if (!isRemoteFileError(error)) throw error;
      this.failed.push({ remotePath: folder, reason: describeSftpError(error, folder, this.session.endpoint).message });
      return;
    }
    list.sort((a, b) => Buffer.compare(Buffer.from(a.filename), Buffer.from(b.filename)));

    for (const item of list) {
      const name = item.filename;
      if (name === '.' || name === '..') continue;
      const remotePath = path.posix.join(folder, name);
      const unsafe = checkRemoteName(name);
      if (unsafe !== undefined) {
        this.rejected.push({ remotePath: `${folder}/${quoteRemoteName(name)}`, reason: `unsafe name: ${unsafe}` });
        log.warn('Rejected an unsafe remote name', { ...endpointFields(this.session.endpoint), folderHash: remotePathHash(folder), reason: unsafe });
        continue;
      }
      const names = [...localNames, name];
      if (item.attrs.isDirectory()) {
        await this.planFolder(root, remotePath, names);
      } else if (item.attrs.isFile()) {
        this.addFile(remotePath, names, item.attrs.size);
      } else if (item.attrs.isSymbolicLink()) {
        await this.planLink(root, remotePath, names);
      } else {
        this.rejected.push({ remotePath, reason: 'not a regular file or folder' });
      }
    }
  }

  private async planLink(root: string, link: string, localNames: string[]): Promise<void> {
    const sftp = this.session.sftp;
    let real: string;
    let target: Stats;
    try {
      real = await realpath(sftp, link);
      target = await lstat(sftp, real);
    } catch (error) {
      if (!isRemoteFileError(error)) throw error;
      this.rejected.push({ remotePath: link, reason: 'symbolic link whose target does not exist or cannot be read' });
      return;
    }
    if (checkLinkTarget(root, real) !== undefined) {
      this.rejected.push({ remotePath: link, reason: `symbolic link to ${quoteRemoteName(real)}, outside the chosen folder ${quoteRemoteName(root)}` });
      log.warn('Did not follow a symbolic link out of the chosen folder', {
        ...endpointFields(this.session.endpoint),
        linkHash: remotePathHash(link),
        rootHash: remotePathHash(root),
      });
      return;
    }
    if (target.isDirectory() && this.visitedFolders.has(real)) {
      // A link loop, or a second way to a folder already walked: name the link, because the folder itself is downloaded.
      this.rejected.push({ remotePath: link, reason: `symbolic link to ${quoteRemoteName(real)}, a folder that is already included` });
      return;
    }
    if (target.isDirectory()) await this.planFolder(root, real, localNames);
    else if (target.isFile()) this.addFile(real, localNames, target.size);
    else this.rejected.push({ remotePath: link, reason: 'symbolic link to something that is not a regular file or folder' });
  }
}

interface PartialState {
  size: number;
  mtime: number;
}

function readPartialState(file: string): PartialState | undefined {
  try {
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<PartialState>;
    if (typeof state.size === 'number' && typeof state.mtime === 'number') return { size: state.size, mtime: state.mtime };
  } catch {
    // A missing or damaged state file means the .part file cannot be trusted; the transfer starts at zero.
  }
  return undefined;
}

/** Opens a local file for writing without following a symbolic link at its path. */
function openLocalForWriting(file: string, truncate: boolean): number {
  const { O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW } = fs.constants;
  return fs.openSync(file, O_WRONLY | O_CREAT | O_NOFOLLOW | (truncate ? O_TRUNC : 0), 0o600);
}

function isWritable(folder: string): boolean {
  try {
    fs.accessSync(folder, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a write below the staging folder. A failure names the folder and, for
 * a full disk or a folder this user cannot write to, what to do. A recursive
 * mkdir on a read-only tmpfs fails with ENOENT (seen with Node 20.20), so the
 * folder's write access is checked instead of the error code.
 */
function stagingStep<T>(stagingDir: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    let hint = '';
    if (code === 'ENOSPC' || code === 'EDQUOT') hint = '; free space there or choose another staging folder';
    else if (!isWritable(stagingDir)) hint = '; choose a staging folder that this user can write to';
    throw new LocalWriteError(`writing to the staging folder ${stagingDir} failed: ${errorText(error)}${hint}`, { cause: error });
  }
}

/** Returns the path of the partial copy of a planned file below `partialRoot`. */
function partialPathOf(partialRoot: string, localNames: string[]): string {
  return localPathInside(partialRoot, [...localNames.slice(0, -1), `${localNames[localNames.length - 1]}.part`]);
}

/**
 * Removes the folder of a partial copy that is gone and each empty parent up
 * to and including partialRoot, because remote folder names often contain
 * patient names. rmdir removes only empty folders, so a folder that still
 * contains a .part file of another transfer stays.
 */
function removeEmptyPartialFolders(partialRoot: string, partPath: string): void {
  const root = path.resolve(partialRoot);
  for (let folder = path.dirname(path.resolve(partPath)); folder === root || folder.startsWith(root + path.sep); folder = path.dirname(folder)) {
    try {
      fs.rmdirSync(folder);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      // ENOTEMPTY (or EEXIST on some systems) means another transfer uses the folder, so its parents are in use as well.
      // The folder's path and the error message repeat remote names, so the line names the remote folder by its hash and the error by its code.
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
        log.warn('Removing an empty staging folder failed', { partialRoot: root, folderHash: remotePathHash(`/${path.relative(root, folder)}`), code });
      }
      return;
    }
  }
}

/**
 * Throws before any transfer when the staging folder's file system has less
 * free space than the planned files still need, counting complete staged
 * copies and partial files as received. When the free space cannot be read, nothing is checked.
 */
function checkFreeSpace(stagingDir: string, files: PlannedFile[]): void {
  let available: number;
  try {
    const stats = fs.statfsSync(stagingDir);
    available = stats.bavail * stats.bsize;
  } catch {
    return;
  }
  const filesRoot = path.join(stagingDir, 'files');
  const partialRoot = path.join(stagingDir, 'partial');
  let needed = 0;
  for (const file of files) {
    if (fs.lstatSync(localPathInside(filesRoot, file.localNames), { throwIfNoEntry: false })?.size === file.size) continue;
    const partial = fs.lstatSync(partialPathOf(partialRoot, file.localNames), { throwIfNoEntry: false })?.size ?? 0;
    needed += Math.max(0, file.size - partial);
  }
  if (needed > available) {
    throw new SshError(
      'failed',
      `the files need ${formatSize(needed)} in the staging folder ${stagingDir}, but only ${formatSize(available)} is free there; ` +
        'free space or choose another staging folder, or download fewer files at a time',
    );
  }
}

/** Returns what differs between the remote file's attributes before and after a copy, or undefined when nothing does. */
function describeChange(before: Stats, after: Stats): string | undefined {
  // NOTE: SFTP version 3, which OpenSSH serves, sends the date modified in whole seconds, so a change
  // that keeps the size and falls in the same second as the first attribute read goes unnoticed.
  const changes: string[] = [];
  if (after.size !== before.size) changes.push(`size ${before.size} then ${after.size} bytes`);
  if (after.mtime !== before.mtime) {
    changes.push(`date modified ${new Date(before.mtime * 1000).toISOString()} then ${new Date(after.mtime * 1000).toISOString()}`);
  }
  return changes.length === 0 ? undefined : changes.join(', ');
}

/** Downloads planned files with a bounded number of parallel transfers, reconnecting after a lost connection. */
class Transfer {
  readonly done: DownloadedFile[] = [];
  readonly failed: RemoteProblem[] = [];
  bytesTransferred = 0;
  private bytesDone = 0;
  private readonly bytesTotal: number;
  private readonly filesRoot: string;
  private readonly partialRoot: string;

  constructor(
    private readonly files: PlannedFile[],
    private readonly options: DownloadOptions,
  ) {
    this.bytesTotal = files.reduce((sum, file) => sum + file.size, 0);
    this.filesRoot = path.join(options.stagingDir, 'files');
    this.partialRoot = path.join(options.stagingDir, 'partial');
  }

  /**
   * Runs the queue on one session; returns the files not finished because the
   * connection was lost or options.signal was aborted.
   */
  async run(session: SshSession, queue: PlannedFile[]): Promise<{ remaining: PlannedFile[]; lost: boolean }> {
    const remaining: PlannedFile[] = [];
    let lost = false;
    const worker = async () => {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        if (lost || this.options.signal?.aborted) {
          remaining.push(file);
          continue;
        }
        try {
          this.done.push(await this.transferFile(session, file));
        } catch (error) {
          if (error instanceof DownloadCancelled) {
            remaining.push(file);
          } else if (isConnectionLoss(error, session)) {
            lost = true;
            remaining.push(file);
            log.warn('Connection lost during a transfer', { ...this.fileFields(session, file), error: errorText(error) });
          } else if (error instanceof LocalWriteError) {
            throw error;
          } else {
            const reason = error instanceof SshError ? error.message : describeSftpError(error, file.remotePath, session.endpoint).message;
            this.failed.push({ remotePath: file.remotePath, reason });
          }
        }
      }
    };
    const parallel = Math.max(1, this.options.parallel ?? DEFAULT_PARALLEL_TRANSFERS);
    await Promise.all(Array.from({ length: Math.min(parallel, Math.max(1, queue.length)) }, worker));
    return { remaining, lost };
  }

  /** Identifies a file in log lines by its position in this run and a hash of its path, never by its path. */
  private fileFields(session: SshSession, file: PlannedFile) {
    return remoteFileFields(session.endpoint, file.remotePath, this.files.indexOf(file) + 1, this.files.length);
  }

  private report(currentPath: string): void {
    this.options.onProgress?.({
      filesDone: this.done.length,
      filesTotal: this.files.length,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      currentPath,
    });
  }

  /**
   * Downloads one file, again from zero when it changed during the copy, at
   * most CHANGED_FILE_ATTEMPTS times. Raises SshError when it changed each time.
   */
  private async transferFile(session: SshSession, file: PlannedFile): Promise<DownloadedFile> {
    for (let attempt = 1; ; attempt++) {
      const counted = { bytes: 0 };
      try {
        return await this.transferOnce(session, file, counted);
      } catch (error) {
        if (!(error instanceof RemoteFileChangedError)) throw error;
        // The bytes of the discarded copy no longer count towards the progress.
        this.bytesDone -= counted.bytes;
        const where = `${file.remotePath} on ${describeEndpoint(session.endpoint)}`;
        if (attempt >= CHANGED_FILE_ATTEMPTS) {
          log.warn('Remote file kept changing during the download; not imported', { ...this.fileFields(session, file), attempts: attempt });
          throw new SshError(
            'failed',
            `${where} changed during the download (${error.message}) in each of ${attempt} attempts; ` +
              'run again when the workstation has finished writing it',
          );
        }
        log.warn('Remote file changed during the download; downloading it again', {
          ...this.fileFields(session, file),
          change: error.message,
          attempt,
        });
        await sleep(CHANGED_FILE_WAIT_MS * attempt);
        if (this.options.signal?.aborted) throw new DownloadCancelled();
      }
    }
  }

  /**
   * Copies one file into partial/ and moves it to files/ when complete.
   * Raises RemoteFileChangedError, after removing the partial copy, when the
   * remote size or date modified after the copy differs from before it.
   * `counted.bytes` receives the bytes added to the progress.
   */
  private async transferOnce(session: SshSession, file: PlannedFile, counted: { bytes: number }): Promise<DownloadedFile> {
    const finalPath = localPathInside(this.filesRoot, file.localNames);
    const partPath = partialPathOf(this.partialRoot, file.localNames);
    const localStep = <T>(action: () => T): T => stagingStep(this.options.stagingDir, action);
    const statePath = `${partPath}.json`;
    const sftp = session.sftp;

    const handle = await openForReading(sftp, file.remotePath);
    try {
      const remote = await fstat(sftp, handle);
      const existing = fs.lstatSync(finalPath, { throwIfNoEntry: false });
      if (existing?.isFile() && existing.size === remote.size && (existing.mtimeMs === remote.mtime * 1000)) {
        this.bytesDone += remote.size;
        this.report(file.remotePath);
        return { remotePath: file.remotePath, localPath: finalPath, size: remote.size, resumedFrom: remote.size, alreadyStaged: true };
      }

      localStep(() => makePrivateFolder(path.dirname(partPath)));
      const state = readPartialState(statePath);
      const partSize = fs.lstatSync(partPath, { throwIfNoEntry: false })?.size ?? 0;
      const resume = state !== undefined && state.size === remote.size && state.mtime === remote.mtime && partSize <= remote.size;
      const offset = resume ? partSize : 0;
      if (!resume) localStep(() => fs.writeFileSync(statePath, JSON.stringify({ size: remote.size, mtime: remote.mtime }), { mode: 0o600 }));
      if (offset > 0) log.info('Resuming a partial transfer', { ...this.fileFields(session, file), offset, size: remote.size });

      const fd = localStep(() => openLocalForWriting(partPath, offset === 0));
      try {
        localStep(() => fs.ftruncateSync(fd, offset));
        this.bytesDone += offset;
        counted.bytes += offset;
        await this.copy(session, handle, fd, offset, remote.size, file.remotePath, counted);
        localStep(() => fs.fsyncSync(fd));
      } catch (error) {
        if (error instanceof RemoteFileChangedError) localStep(() => fs.rmSync(statePath, { force: true }));
        throw error;
      } finally {
        fs.closeSync(fd);
      }

      // The path, not the handle, is checked, so a file replaced by a new one (written elsewhere and renamed) counts as changed too.
      const after = await stat(sftp, file.remotePath);
      const change = describeChange(remote, after);
      if (change !== undefined) {
        localStep(() => {
          fs.rmSync(partPath, { force: true });
          fs.rmSync(statePath, { force: true });
        });
        removeEmptyPartialFolders(this.partialRoot, partPath);
        throw new RemoteFileChangedError(change);
      }

      const written = fs.statSync(partPath).size;
      if (written !== remote.size) {
        throw new SshError('failed', `${file.remotePath}: received ${written} bytes but the remote file has ${remote.size}; run the download again`);
      }
      localStep(() => {
        makePrivateFolder(path.dirname(finalPath));
        fs.renameSync(partPath, finalPath);
        fs.utimesSync(finalPath, new Date(), new Date(remote.mtime * 1000));
        fs.rmSync(statePath, { force: true });
      });
      // A parallel transfer creates its folder and its .part file with no await in between, so a folder in use is never empty here.
      removeEmptyPartialFolders(this.partialRoot, partPath);
      return { remotePath: file.remotePath, localPath: finalPath, size: remote.size, resumedFrom: offset, alreadyStaged: false };
    } finally {
      if (!session.isClosed) await closeHandle(sftp, handle);
    }
  }

  /**
   * Copies bytes [offset, size) in batches of READS_IN_FLIGHT reads and writes
   * them in order, so the .part file is always a complete prefix of the remote file.
   */
  private async copy(
    session: SshSession,
    handle: Buffer,
    fd: number,
    offset: number,
    size: number,
    remotePath: string,
    counted: { bytes: number },
  ): Promise<void> {
    let position = offset;
    while (position < size) {
      if (this.options.signal?.aborted) throw new DownloadCancelled();
      const reads: Promise<Buffer>[] = [];
      for (let index = 0; index < READS_IN_FLIGHT; index++) {
        const start = position + index * READ_CHUNK_BYTES;
        if (start >= size) break;
        reads.push(readAt(session.sftp, handle, Math.min(READ_CHUNK_BYTES, size - start), start));
      }
      const settled = await Promise.allSettled(reads);
      for (const result of settled) {
        if (result.status === 'rejected') throw result.reason;
        const chunk = result.value;
        if (chunk.length === 0) throw new RemoteFileChangedError(`it became shorter: the end came after ${position} of ${size} bytes`);
        stagingStep(this.options.stagingDir, () => fs.writeSync(fd, chunk, 0, chunk.length, position));
        position += chunk.length;
        this.bytesDone += chunk.length;
        counted.bytes += chunk.length;
        this.bytesTransferred += chunk.length;
        // A short read that is not at the end leaves a gap, so the next batch starts right after it.
        if (chunk.length < READ_CHUNK_BYTES && position < size) break;
      }
      this.report(remotePath);
    }
  }
}

/**
 * Downloads `remotePaths` (files or folders; relative paths start at the
 * login's home folder) into options.stagingDir. Raises SshError when no
 * connection can be opened, or when the connection is lost and the reconnect
 * attempts run out. Items that fail one by one are listed in the report.
 */
export async function downloadPaths(openSession: SessionFactory, remotePaths: string[], options: DownloadOptions): Promise<DownloadReport> {
  // Folder names repeat the remote paths, which often contain patient names, so new folders are for the owner only.
  stagingStep(options.stagingDir, () => makePrivateFolder(options.stagingDir));
  const attempts = options.reconnectAttempts ?? DEFAULT_RECONNECT_ATTEMPTS;
  const initialBackoff = options.initialBackoffMs ?? 1000;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  let reconnects = 0;
  let failuresInRow = 0;
  let session = await openSession();

  const reconnect = async (reason: string): Promise<void> => {
    session.close();
    for (;;) {
      failuresInRow += 1;
      if (failuresInRow > attempts) {
        throw new SshError(
          'connection-lost',
          `connection to ${describeEndpoint(session.endpoint)} lost (${reason}) and ${attempts} reconnect attempts failed; ` +
            'run the same command again later to continue the partial files',
        );
      }
      const wait = Math.min(maxBackoff, initialBackoff * 2 ** (failuresInRow - 1));
      log.info('Reconnecting', { host: session.endpoint.host, port: session.endpoint.port, attempt: failuresInRow, waitMs: wait });
      await sleep(wait);
      try {
        session = await openSession();
        reconnects += 1;
        return;
      } catch (error) {
        const retryable = error instanceof SshError && ['connection-refused', 'timeout', 'connection-lost', 'failed'].includes(error.code);
        if (!retryable) throw error;
        reason = error.message;
        log.warn('Reconnect failed', { attempt: failuresInRow, error: error.message });
      }
    }
  };

  try {
    let planner: Planner;
    for (;;) {
      planner = new Planner(session);
      try {
        for (const given of remotePaths) {
          if (options.signal?.aborted) break;
          await planner.planPath(given);
        }
        break;
      } catch (error) {
        if (!isConnectionLoss(error, session)) throw error;
        await reconnect(errorText(error));
      }
    }

    const files = [...planner.files.values()];
    checkFreeSpace(options.stagingDir, files);
    const transfer = new Transfer(files, options);
    let queue = options.signal?.aborted ? [] : [...files];
    for (;;) {
      const before = transfer.bytesTransferred + transfer.done.length;
      const { remaining, lost } = await transfer.run(session, queue);
      queue = remaining;
      if (!lost || options.signal?.aborted) break;
      if (transfer.bytesTransferred + transfer.done.length > before) failuresInRow = 0;
      await reconnect('the connection closed during the transfer');
    }
    const cancelled = options.signal?.aborted ?? false;
    const finished = new Set([...transfer.done, ...transfer.failed].map((file) => file.remotePath));
    const notDownloaded = cancelled ? files.map((file) => file.remotePath).filter((remote) => !finished.has(remote)) : [];
    if (cancelled) log.info('Download cancelled', { filesDone: transfer.done.length, filesNotDownloaded: notDownloaded.length });

    const filesRoot = path.join(options.stagingDir, 'files');
    const stagedPaths = [...new Set(planner.roots.map((names) => localPathInside(filesRoot, names)))].filter((local) => fs.existsSync(local));
    return {
      files: transfer.done,
      stagedPaths,
      rejected: planner.rejected,
      failed: [...planner.failed, ...transfer.failed],
      reconnects,
      bytesTransferred: transfer.bytesTransferred,
      cancelled,
      notDownloaded,
    };
  } finally {
    session.close();
  }
}
