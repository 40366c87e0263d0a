/**
 * Reads stored data sets for sending into a small pool of reused buffers.
 *
 * Reading every file into new buffers left about 60 MiB of garbage behind a
 * 1 GB send (bench scenario e), because V8 collects external memory only
 * after tens of megabytes have accumulated. The association hands each chunk
 * back once the socket has written it, and the next read fills it again.
 */

import fs from 'node:fs';

import { locateDataset, parseDicomFileHeader, readDicomFileHeader } from '../../dicom/file-reader';
import type { DatasetLocation, DicomFileHeader } from '../../dicom/file-reader';
import { Tags } from '../../dicom/tags';
import type { RecyclingChunkSource } from '../../dicom/network/dataset-source';

/** Size of each pooled buffer: one read of a file, and the most a first read covers. */
export const POOL_CHUNK_BYTES = 1024 * 1024;

/**
 * Free buffers kept for reuse. The association keeps at most 1 MiB queued in
 * the socket, so one send needs about three buffers plus one for the
 * prefetched next instance. More free buffers than this only hold memory.
 */
const MAX_FREE_BUFFERS = 6;

/**
 * Longest synchronous read before reads go through the thread pool. A read
 * from the page cache copies a 1 MiB chunk in well under a millisecond, while
 * the thread pool costs a round trip and lock handoffs per call: with the
 * thread pool, sending 1000 CT images spent about 0.2 s of main thread time
 * waiting on its locks (strace -f, 2 cores). A slower read means the file
 * came from the disk, and then every source in this process reads
 * asynchronously for SLOW_READ_BACKOFF_MS, so the event loop (and a window
 * that shares it) stalls for at most about one read per backoff period. The
 * limit is above a scheduler time slice, as for the receive path's writes
 * (see received-file.ts), so that a read that was only preempted does not count.
 *
 * NOTE: both values are estimates, and no test runs the asynchronous path
 * that a slow read selects.
 */
const MAX_SYNC_READ_MS = 20;
const SLOW_READ_BACKOFF_MS = 1000;

/** performance.now() time from which reads are synchronous again. */
let syncReadsResumeAt = 0;

function syncReadsAllowed(): boolean {
  return syncReadsResumeAt === 0 || performance.now() >= syncReadsResumeAt;
}

/** A file whose size differs from the size that the archive index recorded for it. */
export class FileSizeChangedError extends Error {
  constructor(
    readonly path: string,
    readonly fileSize: number,
    readonly indexedSize: number,
  ) {
    super(`${path} has ${fileSize} bytes but the index records ${indexedSize}; the file changed after it was indexed, so run "loader reindex" to check it and rebuild the index from the files`);
    this.name = 'FileSizeChangedError';
  }
}

/** Reusable read buffers shared by the instances of one send. */
export class ReadBufferPool {
  private readonly free: ArrayBuffer[] = [];

  get hasFree(): boolean {
    return this.free.length > 0;
  }

  take(): Buffer {
    const reused = this.free.pop();
    return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(POOL_CHUNK_BYTES);
  }

  /**
   * Returns a free buffer, first letting the event loop run once when none is
   * free. A socket write that completes at once reports it in a
   * process.nextTick callback, and synchronous reads chained by await never
   * let those callbacks run. Without this turn, every chunk of a 100 MB file
   * took a new buffer, and a send peaked 90-130 MiB above its start (bench
   * scenario e).
   */
  async takeAfterReturns(): Promise<Buffer> {
    if (!this.hasFree) await new Promise<void>((resolve) => setImmediate(resolve));
    return this.take();
  }

  /** Takes back a buffer from take(), or any view of one. */
  give(chunk: Buffer): void {
    const backing = chunk.buffer as ArrayBuffer;
    if (backing.byteLength !== POOL_CHUNK_BYTES || this.free.length >= MAX_FREE_BUFFERS) return;
    if (!this.free.includes(backing)) this.free.push(backing);
  }
}

/**
 * The data set of a stored file (the bytes after its file meta information),
 * read in chunks of up to POOL_CHUNK_BYTES. open() reads the file's first
 * chunk, parses the header from it and keeps the data set part for the first
 * yield, so a source prepared while another instance is being sent is ready
 * when its turn comes.
 */
export class PooledFileSource implements RecyclingChunkSource {
  private first?: Buffer;
  private position = 0;
  private end = 0;
  private destroyed = false;

  private constructor(
    readonly path: string,
    private fd: number | undefined,
    private readonly pool: ReadBufferPool,
  ) {}

  /**
   * Opens the file, reads its header and the first data set bytes. The
   * returned header has the file's transfer syntax, which the caller compares
   * with the index. Rejects when the file cannot be read, is damaged, or is
   * shorter than its header declares.
   *
   * With `options.indexedSize`, the size the archive index recorded when it
   * checked the file at storing or scanning, only the file meta information
   * is parsed, which saves parsing the data set of every sent file. A file of
   * another size is rejected in place of the data set checks.
   *
   * With `options.noFollow` a symbolic link at `path` is not followed, and
   * open rejects with ELOOP (O_NOFOLLOW), at no extra system call.
   */
  static async open(
    path: string,
    pool: ReadBufferPool,
    options: { indexedSize?: number; noFollow?: boolean } = {},
  ): Promise<{ source: PooledFileSource; header: DatasetLocation }> {
    const flags = options.noFollow ? fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW : fs.constants.O_RDONLY;
    const fd = syncReadsAllowed() ? fs.openSync(path, flags) : await openAsync(path, flags);
    const source = new PooledFileSource(path, fd, pool);
    try {
      const header = await source.readHeaderAndFirstChunk(options.indexedSize);
      return { source, header };
    } catch (error) {
      source.destroy();
      throw error;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    try {
      if (this.first) {
        const first = this.first;
        this.first = undefined;
        yield first;
      }
      while (this.position < this.end && !this.destroyed) yield await this.readChunk();
    } finally {
      this.destroy();
    }
  }

  recycle(chunk: Buffer): void {
    this.pool.give(chunk);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.first) this.pool.give(this.first);
    this.first = undefined;
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) return;
    // Closing a descriptor opened for reading writes nothing back, so a failed close loses nothing and is ignored.
    // fs.closeSync cost about 3 us of CPU time per file and fs.close about 30 us, for the thread pool round trip
    // (1000 files on a 2-core AMD EPYC), so the thread pool serves only the periods of slow reads.
    if (!syncReadsAllowed()) {
      fs.close(fd, () => undefined);
      return;
    }
    try {
      fs.closeSync(fd);
    } catch {
      // Ignored, as above.
    }
  }

  private async readHeaderAndFirstChunk(indexedSize: number | undefined): Promise<DatasetLocation> {
    const fileSize = (await this.stat()).size;
    if (indexedSize !== undefined && fileSize !== indexedSize) {
      throw new FileSizeChangedError(this.path, fileSize, indexedSize);
    }
    const buffer = await this.pool.takeAfterReturns();
    let header: DatasetLocation | undefined;
    let firstLength = 0;
    try {
      firstLength = Math.min(fileSize, POOL_CHUNK_BYTES);
      await this.readInto(buffer, firstLength, 0, fileSize);
      const head = buffer.subarray(0, firstLength);
      if (indexedSize !== undefined) header = locateDataset(this.path, head, fileSize);
      header ??= parseDicomFileHeader(this.path, head, fileSize);
    } catch (error) {
      this.pool.give(buffer);
      throw error;
    }

    // A header longer than one buffer (rare: large enhanced multi-frame objects) is read on its own.
    if (header === undefined) {
      this.pool.give(buffer);
      header = await readDicomFileHeader(this.path);
      this.position = header.datasetOffset;
      this.end = fileSize;
      return toLocation(header);
    }

    this.position = firstLength;
    this.end = fileSize;
    if (firstLength > header.datasetOffset) this.first = buffer.subarray(header.datasetOffset, firstLength);
    else this.pool.give(buffer);
    return toLocation(header);
  }

  private stat(): Promise<fs.Stats> | fs.Stats {
    const fd = this.openDescriptor();
    if (syncReadsAllowed()) return fs.fstatSync(fd);
    return new Promise((resolve, reject) => fs.fstat(fd, (error, stats) => (error ? reject(error) : resolve(stats))));
  }

  /** Reads the next chunk into a pooled buffer and returns a view of its filled part. */
  private async readChunk(): Promise<Buffer> {
    const buffer = await this.pool.takeAfterReturns();
    const length = Math.min(POOL_CHUNK_BYTES, this.end - this.position);
    try {
      await this.readInto(buffer, length, this.position, this.end);
    } catch (error) {
      this.pool.give(buffer);
      throw error;
    }
    this.position += length;
    return buffer.subarray(0, length);
  }

  /** Fills buffer[0, length) from file offset `position`; `fileEnd` is the size the file had when opened. */
  private async readInto(buffer: Buffer, length: number, position: number, fileEnd: number): Promise<void> {
    const fd = this.openDescriptor();
    let filled = 0;
    while (filled < length) {
      const bytesRead = syncReadsAllowed() ? readSyncTimed(fd, buffer, filled, length - filled, position + filled) : await readAsync(fd, buffer, filled, length - filled, position + filled);
      if (bytesRead === 0) {
        throw new Error(`${this.path} was truncated while being sent: it ends at byte ${position + filled} but had ${fileEnd} bytes when it was opened`);
      }
      filled += bytesRead;
    }
  }

  private openDescriptor(): number {
    if (this.fd === undefined || this.destroyed) throw new Error(`${this.path}: reading stopped because the send was cancelled`);
    return this.fd;
  }
}

function openAsync(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, (error, fd) => (error ? reject(error) : resolve(fd))));
}

function readAsync(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buffer, offset, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))));
}

/** Reads like fs.readSync and switches to asynchronous reads for a while when the call was slow. */
function readSyncTimed(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
  const start = performance.now();
  const bytesRead = fs.readSync(fd, buffer, offset, length, position);
  const end = performance.now();
  if (end - start > MAX_SYNC_READ_MS) syncReadsResumeAt = end + SLOW_READ_BACKOFF_MS;
  return bytesRead;
}

/** Returns the location fields of a header, with the Media Storage SOP Instance UID of a full header's meta group. */
function toLocation(header: DatasetLocation | DicomFileHeader): DatasetLocation {
  if (!('meta' in header)) return header;
  const mediaStorageSopInstanceUid = header.meta.getString(Tags.MediaStorageSOPInstanceUID) || undefined;
  const mediaStorageSopClassUid = header.meta.getString(Tags.MediaStorageSOPClassUID) || undefined;
  return { transferSyntaxUid: header.transferSyntaxUid, datasetOffset: header.datasetOffset, mediaStorageSopInstanceUid, mediaStorageSopClassUid };
}
