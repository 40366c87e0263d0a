/**
 * Data set bytes handed to the association for sending.
 */

import type { Readable } from 'node:stream';

/**
 * A chunk source whose buffers return to it once the socket no longer needs
 * them. A sender that reads large files into fresh buffers leaves garbage
 * that V8 collects only after tens of megabytes of external memory have
 * accumulated, and that garbage counts in the process's resident set. A
 * recycling source reads into the same few buffers instead.
 */
export interface RecyclingChunkSource extends AsyncIterable<Buffer> {
  /**
   * Takes back a chunk that this source yielded, after the socket has passed
   * all of its bytes to the kernel. The association calls it at most once
   * per chunk, in the order the chunks were yielded, and not for a chunk
   * whose write failed.
   */
  recycle(chunk: Buffer): void;
  /** Stops reading and releases the source's resources; called when sending fails or is cancelled. */
  destroy(error?: Error): void;
}

/** Data set bytes without File Meta Information: in memory, as a stream, or from a recycling source. */
export type DatasetSource = Buffer | Readable | RecyclingChunkSource;

export function isRecyclingSource(data: DatasetSource): data is RecyclingChunkSource {
  return !Buffer.isBuffer(data) && typeof (data as RecyclingChunkSource).recycle === 'function';
}
