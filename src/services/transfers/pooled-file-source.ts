/**
 * Reads stored data sets for sending into a small pool of reused buffers.
 *
 * Reading every file into new buffers left about 60 MiB of garbage behind a
 * 1 GB send (bench scenario e), because V8 collects external memory only
 * after tens of megabytes have accumulated. The association hands each chunk
 * back once the socket has written it, and the next read fills it again.
 */

import fs from 'node:fs';

import type { RecyclingChunkSource } from '../../dicom/network/dataset-source';

/** Size of each pooled buffer: one read of a file, and the largest data set read whole. */
export const POOL_CHUNK_BYTES = 1024 * 1024;

/**
 * Free buffers kept for reuse. The association keeps at most 1 MiB queued in
 * the socket, so one send needs about three buffers plus one for the
 * prefetched next instance; more free buffers than this only hold memory.
 */
const MAX_FREE_BUFFERS = 6;

/** Reusable read buffers shared by the instances of one send. */
export class ReadBufferPool {
  private readonly free: ArrayBuffer[] = [];

  take(): Buffer {
    const reused = this.free.pop();
    return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(POOL_CHUNK_BYTES);
  }

  /** Takes back a buffer from take(), or any view of one. */
  give(chunk: Buffer): void {
    const backing = chunk.buffer as ArrayBuffer;
    if (backing.byteLength !== POOL_CHUNK_BYTES || this.free.length >= MAX_FREE_BUFFERS) return;
    if (!this.free.includes(backing)) this.free.push(backing);
  }
}

/**
 * The bytes of `path` from `start` to `start + length`, read in chunks of up
 * to POOL_CHUNK_BYTES. open() reads the first chunk at once, so a source
 * prepared while another instance is being sent is ready when its turn comes.
 */
export class PooledFileSource implements RecyclingChunkSource {
  private handle?: fs.promises.FileHandle;
  private first?: Buffer;
  private position: number;
  private readonly end: number;
  private destroyed = false;

  private constructor(
    readonly path: string,
    start: number,
    length: number,
    private readonly pool: ReadBufferPool,
  ) {
    this.position = start;
    this.end = start + length;
  }

  /** Opens the file and reads the first chunk; rejects when the file cannot be read or is shorter than expected. */
  static async open(path: string, start: number, length: number, pool: ReadBufferPool): Promise<PooledFileSource> {
    const source = new PooledFileSource(path, start, length, pool);
    source.handle = await fs.promises.open(path, 'r');
    try {
      source.first = await source.readChunk();
    } catch (error) {
      source.destroy();
      throw error;
    }
    return source;
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
    const handle = this.handle;
    this.handle = undefined;
    // Every byte has been read or the send failed, so the close need not delay anything.
    handle?.close().catch(() => undefined);
  }

  /** Reads the next chunk into a pooled buffer and returns a view of its filled part. */
  private async readChunk(): Promise<Buffer> {
    const handle = this.handle;
    if (!handle || this.destroyed) throw new Error(`${this.path}: reading stopped because the send was cancelled`);
    const buffer = this.pool.take();
    const length = Math.min(POOL_CHUNK_BYTES, this.end - this.position);
    let filled = 0;
    try {
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, this.position + filled);
        if (bytesRead === 0) {
          throw new Error(`${this.path} was truncated while being sent: it ends at byte ${this.position + filled} but had ${this.end} bytes when its header was read`);
        }
        filled += bytesRead;
      }
    } catch (error) {
      this.pool.give(buffer);
      throw error;
    }
    this.position += length;
    return buffer.subarray(0, length);
  }
}
