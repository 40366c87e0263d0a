/**
 * A socket read buffer that is reused for every read until a consumer keeps a
 * view of it.
 *
 * Node allocates a new 64 KiB buffer for each socket read. While `loader serve`
 * received 1000 CT images (525 MB), --trace-gc showed 16 full collections
 * caused by these buffers. Their marking threads competed with the sender for
 * the cores of a 2-core machine. With net.Socket's `onread` option the socket
 * reads into a buffer of ours instead.
 *
 * A chunk from this buffer is valid only during the call that receives it. The
 * PDU reader and the message assembler copy the few bytes they keep across
 * reads: PDU headers, control PDUs and command sets. When a data set chunk
 * stays referenced, for example in a paused stream's queue, the assembler
 * calls keep(). The next read then goes to a new buffer, and the old one stays
 * with the code that references it.
 */

import { type OnReadOpts, Socket, type SocketConstructorOpts } from 'node:net';
import type { Readable } from 'node:stream';

/**
 * Size of each read: four times Node's default of 64 KiB. For CT images of
 * 525 KB from storescu, the larger reads cut the read calls per image from
 * 9.8 to 3.4 and the file writes from 16 to 11 (strace). The median receive
 * of 1000 images fell from 1.64 to 1.59 s, and of the next 1000 from 1.43 to
 * 1.35 s, in 6 alternating runs on 2 cores: a small gain, within the noise of
 * that machine. Each association keeps one such buffer.
 */
const READ_BUFFER_BYTES = 256 * 1024;

type ChunkReceiver = (chunk: Buffer) => void;

export class SocketReadBuffer {
  private buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  private bufferKept = false;
  private receiver?: ChunkReceiver;
  /** Chunks read before a receiver was set, copied. */
  private early: Buffer[] = [];

  /** The `onread` option for net.Socket and net.connect; reading pauses through socket.pause(), never through the callback. */
  readonly onread: OnReadOpts = {
    buffer: (): Buffer => this.next(),
    callback: (length: number, buffer: Uint8Array): boolean => {
      this.deliver((buffer as Buffer).subarray(0, length));
      return true;
    },
  };

  /** Sets the function that receives each chunk, and hands it the chunks read so far. */
  setReceiver(receiver: ChunkReceiver): void {
    this.receiver = receiver;
    const early = this.early;
    this.early = [];
    for (const chunk of early) receiver(chunk);
  }

  /** Says that a view of the current chunk outlives the call: the next read goes to a new buffer. */
  keep(): void {
    this.bufferKept = true;
  }

  private next(): Buffer {
    if (this.bufferKept) {
      this.buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
      this.bufferKept = false;
    }
    return this.buffer;
  }

  private deliver(chunk: Buffer): void {
    if (this.receiver) this.receiver(chunk);
    else this.early.push(Buffer.from(chunk));
  }
}

/**
 * Moves a connection accepted by net.Server into a socket that reads into
 * `readBuffer`, or returns undefined when that is not possible.
 *
 * net.Server takes no `onread` option, so the server must be created with
 * pauseOnConnect, and the handle is taken from the paused socket it made.
 * `_handle` is internal to Node; the fallback keeps a Node release that moves it
 * working, and test/network/socket-read-buffer.test.ts fails when the handle is
 * no longer found.
 */
export function adoptAcceptedSocket(accepted: Socket, readBuffer: SocketReadBuffer): Socket | undefined {
  const internal = accepted as unknown as { _handle?: { readStart?: unknown } | null };
  const handle = internal._handle;
  if (!handle || typeof handle.readStart !== 'function') return undefined;

  internal._handle = null;
  // With no handle, destroy() only lowers the server's connection count.
  accepted.destroy();
  const options = { handle, readable: true, writable: true, onread: readBuffer.onread };
  return new Socket(options as SocketConstructorOpts);
}

/**
 * Streams whose one 'data' listener copies what it keeps past the event, so
 * that they may receive chunks of a shared read buffer (see allowSharedChunks).
 */
const sharingStreams = new WeakSet<Readable>();

/**
 * Declares that the caller's 'data' listener, the stream's only one, copies
 * every chunk it keeps after the listener returns. The message assembler then
 * skips keep() for chunks that this stream emits at once.
 */
export function allowSharedChunks(stream: Readable): void {
  sharingStreams.add(stream);
}

/** True when `stream` may emit chunks of a shared read buffer. */
export function sharesChunks(stream: Readable): boolean {
  return sharingStreams.has(stream) && stream.listenerCount('data') === 1;
}
