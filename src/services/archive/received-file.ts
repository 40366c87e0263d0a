/**
 * Writes a received data set to a temporary file and parses its header from
 * the bytes kept in memory on the way, so the receive path never reads the
 * file back unless the header is longer than HEAD_BYTES.
 */

import fs from 'node:fs';
import { finished, type Readable } from 'node:stream';
import type { DatasetEncoding } from '../../dicom/dataset';
import { tagGroup } from '../../dicom/dataset';
import { DatasetStructureWalker } from '../../dicom/dataset-structure';
import { describeStopElementOverrun } from '../../dicom/file-reader';
import type { DicomFileHeader } from '../../dicom/file-reader';
import { DicomParseError, parseDatasetDetailed } from '../../dicom/parser';
import { KNOWN_VRS, Tags } from '../../dicom/tags';
import { describeTransferSyntax } from '../../dicom/uid';
import { allowSharedChunks } from '../../dicom/network/socket-read-buffer';
import { FILE_MODE } from './layout';

/**
 * Data set bytes kept in memory for the header parse. It is the size of the
 * first read of readDicomFileHeader, which fits the headers of single-frame
 * CT and MR images. Longer headers (enhanced multi-frame objects) are read
 * from the file instead.
 */
export const HEAD_BYTES = 64 * 1024;

/**
 * Data set bytes after which receiveFile first tries to parse the header.
 * When the header is complete there, the other bytes are not copied into the
 * head. Most CT headers are 1 to 2 KiB. Allocating a head buffer of 64 KiB
 * for each of 1000 CT images and copying into it took about 0.2 s of the main
 * thread in a CPU profile of `loader serve` (2-core AMD EPYC, Node 20).
 */
export const FIRST_HEAD_BYTES = 8 * 1024;

/**
 * Bytes queued behind a write in flight before reading the stream pauses. It
 * bounds the memory of one transfer to this plus the write in flight.
 */
const MAX_QUEUED_BYTES = 256 * 1024;

/**
 * Largest tail written with a synchronous call after the stream ended. The
 * sender waits for the response from its last byte on, and a page cache write
 * of this size took tens of microseconds under strace on the bench machine,
 * less than a round trip through the thread pool. Larger tails stay
 * asynchronous so that a slow disk does not block the event loop for long.
 */
const MAX_SYNC_TAIL_BYTES = 64 * 1024;

/**
 * Longest synchronous write before writes go through the thread pool. A
 * slower write means the kernel throttles writers to a full page cache. Then
 * every transfer in this process writes asynchronously for
 * SLOW_WRITE_BACKOFF_MS, so a slow disk blocks the event loop for about one
 * write per backoff period. The limit is well above a scheduler time slice.
 * With 2 ms, writes that were only preempted by the sender on a busy 2-core
 * machine switched the receive path to the thread pool, and receiving 1000
 * CT images took 10-15% longer (3 alternating runs each).
 *
 * NOTE: both values are estimates, and no test runs the asynchronous path
 * that a slow write selects.
 */
const MAX_SYNC_WRITE_MS = 20;
const SLOW_WRITE_BACKOFF_MS = 1000;

/** performance.now() time from which chunks are written synchronously again. */
let syncWritesResumeAt = 0;

const PREAMBLE_AND_PREFIX_LENGTH = 132;
const EXPLICIT_LITTLE_ENDIAN: DatasetEncoding = { littleEndian: true, explicitVr: true };

export interface ReceivedFile {
  /** File size in bytes: meta information plus data set. */
  size: number;
  /**
   * The file's first bytes: the whole meta information and up to HEAD_BYTES
   * of the data set, or fewer when `onHeadFilled` returned true for them.
   */
  head: Buffer;
}

export interface WriteReceivedFileOptions {
  fsync: boolean;
  /** A descriptor of the empty `file`, opened for writing by the caller; it is closed like one opened here. */
  fd?: number;
  /**
   * Called when the head contains FIRST_HEAD_BYTES of the data set, and again at
   * HEAD_BYTES unless it returned true. True means that the head contains all
   * the bytes the caller needs, so no more bytes are copied into it. Without
   * it, the head collects HEAD_BYTES.
   */
  onHeadFilled?: (head: Buffer) => boolean;
  /**
   * Called with each data set chunk in order, before it is written. The chunk
   * may share the socket's read buffer, so it is valid only during the call.
   */
  onChunk?: (chunk: Buffer) => void;
}

/**
 * Creates `file` (it must not exist) unless `options.fd` is given, writes
 * `meta` and then the stream's bytes, and closes it. With `fsync` the data is flushed to disk before the
 * file is closed.
 *
 * Each chunk is written when it arrives with a synchronous call, because a
 * page cache write of a PDU takes microseconds. A thread pool round trip per
 * chunk made `loader serve` about 10% slower at receiving 1000 CT images in
 * back-to-back bench runs (2 shared cores). After a slow synchronous write (see
 * MAX_SYNC_WRITE_MS) chunks are written asynchronously for a while: each one
 * as soon as no other write of this file is in flight, so writing overlaps
 * receiving, and chunks that arrive meanwhile go out together in one writev.
 * Reading the stream pauses while MAX_QUEUED_BYTES wait behind a write, so a
 * slow disk slows the sender down instead of filling memory. Open and close
 * are synchronous calls for the same reason as the writes.
 */
export function writeReceivedFile(
  file: string,
  meta: Buffer,
  data: Readable,
  options: WriteReceivedFileOptions,
): Promise<ReceivedFile> {
  let fd: number;
  try {
    fd = options.fd ?? fs.openSync(file, 'wx', FILE_MODE);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise<ReceivedFile>((resolve, reject) => {
    const fullHeadLength = meta.length + HEAD_BYTES;
    let head = Buffer.allocUnsafe(options.onHeadFilled ? meta.length + FIRST_HEAD_BYTES : fullHeadLength);
    meta.copy(head);
    let headLength = meta.length;
    let collectingHead = true;
    let size = meta.length;

    let queue: Buffer[] = [meta];
    let queuedBytes = meta.length;
    let position = 0;
    let writing = false;
    let ended = false;
    let settled = false;
    let failure: unknown;

    const settle = (error: unknown) => {
      if (settled) return;
      settled = true;
      data.off('data', onData);
      // Like a for-await loop that throws, a failed write stops the stream, so its owner stops reading the socket for it.
      if (error !== undefined && !data.destroyed) data.destroy();
      try {
        fs.closeSync(fd);
      } catch (closeError) {
        error ??= closeError;
      }
      if (error === undefined) resolve({ size, head: head.subarray(0, headLength) });
      else reject(error);
    };

    const finish = () => {
      if (!options.fsync) return settle(undefined);
      fs.fsync(fd, (error) => settle(error ?? undefined));
    };

    const writeQueued = () => {
      const buffers = queue;
      const bytes = queuedBytes;
      queue = [];
      queuedBytes = 0;
      writing = true;
      writevAll(fd, buffers, position, (error) => {
        writing = false;
        // A write that completes after a stream error only releases the descriptor.
        if (error || settled || (ended && failure !== undefined)) return settle(error ?? failure);
        position += bytes;
        if (data.isPaused() && !ended) data.resume();
        if (queuedBytes > 0) writeNext();
        else if (ended) finish();
      });
    };

    /** Writes the queue with a synchronous call. Returns false after a failure, which has settled the promise. */
    const writeQueuedSync = (): boolean => {
      try {
        writevAllSyncTimed(fd, queue, position);
      } catch (error) {
        settle(error);
        return false;
      }
      position += queuedBytes;
      queue = [];
      queuedBytes = 0;
      return true;
    };

    const writeNext = () => {
      if (ended && (queuedBytes <= MAX_SYNC_TAIL_BYTES || syncWritesAllowed())) {
        if (writeQueuedSync()) finish();
        return;
      }
      writeQueued();
    };

    /** Copies the start of `chunk` into the head while the head collects bytes, and grows the head once when asked to. */
    const collectHead = (chunk: Buffer) => {
      let offset = 0;
      while (collectingHead) {
        const copied = chunk.copy(head, headLength, offset);
        headLength += copied;
        offset += copied;
        if (headLength < head.length) return;

        const complete = options.onHeadFilled?.(head) ?? true;
        if (complete || head.length === fullHeadLength) {
          collectingHead = false;
          return;
        }
        const grown = Buffer.allocUnsafe(fullHeadLength);
        head.copy(grown);
        head = grown;
      }
    };

    const onData = (chunk: Buffer) => {
      options.onChunk?.(chunk);
      if (collectingHead) collectHead(chunk);
      size += chunk.length;
      queuedBytes += chunk.length;
      if (!writing && syncWritesAllowed()) {
        queue.push(chunk);
        writeQueuedSync();
        return;
      }

      // The chunk outlives this call, and it may share the socket's read buffer (allowSharedChunks).
      queue.push(Buffer.from(chunk));
      if (writing) {
        if (queuedBytes >= MAX_QUEUED_BYTES) data.pause();
      } else {
        writeQueued();
      }
    };

    data.on('data', onData);
    allowSharedChunks(data);
    finished(data, (error) => {
      ended = true;
      if (error) {
        failure = error;
        // A write still in flight must finish before its descriptor is closed, so its callback settles.
        if (!writing) settle(error);
        return;
      }
      if (writing) return;
      if (queuedBytes > 0) writeNext();
      else finish();
    });
  });
}

/** Writes every buffer at `position` with writev, repeating the call after a short write. */
function writevAll(fd: number, buffers: Buffer[], position: number, callback: (error: NodeJS.ErrnoException | null) => void): void {
  const total = totalLength(buffers);
  fs.writev(fd, buffers, position, (error, bytesWritten) => {
    if (error) return callback(error);
    if (bytesWritten >= total) return callback(null);
    writevAll(fd, dropBytes(buffers, bytesWritten), position + bytesWritten, callback);
  });
}

function writevAllSync(fd: number, buffers: Buffer[], position: number): void {
  let remaining = buffers;
  let offset = position;
  for (;;) {
    const total = totalLength(remaining);
    const bytesWritten = fs.writevSync(fd, remaining, offset);
    if (bytesWritten >= total) return;
    offset += bytesWritten;
    remaining = dropBytes(remaining, bytesWritten);
  }
}

function syncWritesAllowed(): boolean {
  return syncWritesResumeAt === 0 || performance.now() >= syncWritesResumeAt;
}

/** Writes like writevAllSync and switches to asynchronous writes for a while when the call was slow. */
function writevAllSyncTimed(fd: number, buffers: Buffer[], position: number): void {
  const start = performance.now();
  writevAllSync(fd, buffers, position);
  const end = performance.now();
  if (end - start > MAX_SYNC_WRITE_MS) syncWritesResumeAt = end + SLOW_WRITE_BACKOFF_MS;
}

function totalLength(buffers: Buffer[]): number {
  let total = 0;
  for (const buffer of buffers) total += buffer.length;
  return total;
}

function dropBytes(buffers: Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = count;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

/** A header and what the caller derived from it (see receiveFile). */
export interface ParsedReceivedFile<T> extends ReceivedFile {
  /** Undefined where parseReceivedHeader returns undefined: the caller reads the header from the file. */
  header: DicomFileHeader | undefined;
  /** The result of `interpret` for `header`, undefined without a header. */
  interpreted: T | undefined;
}

/**
 * Writes a received file like writeReceivedFile and parses its header like
 * parseReceivedHeader, then calls `interpret` with the header. Both run as
 * soon as FIRST_HEAD_BYTES of the data set arrived, or HEAD_BYTES when the
 * header is longer, while the sender still sends the rest. So they do not add
 * to the time the sender waits for the C-STORE response. An error of the parse or of
 * `interpret` is thrown after the file is complete, as at the end.
 *
 * Each chunk also goes through a DatasetStructureWalker in the transfer
 * syntax, so a data set that is not well formed in it to its last byte throws
 * DatasetStructureError. An error of the header parse comes first. Deflated
 * and unknown transfer syntaxes are not walked, because the bytes are not
 * inflated here. A caller that reads the header from the file, because
 * `header` is undefined, gets the walker's error before that read.
 */
export async function receiveFile<T>(
  file: string,
  meta: Buffer,
  data: Readable,
  options: { fsync: boolean; fd?: number; transferSyntaxUid: string; interpret: (header: DicomFileHeader) => T },
): Promise<ParsedReceivedFile<T>> {
  let early: { partial: PartialHeader; interpreted: T } | { error: unknown } | undefined;
  let noEarlyHeader = false;
  const onHeadFilled = (head: Buffer): boolean => {
    try {
      const partial = parseHead(file, head, meta.length, options.transferSyntaxUid, false);
      if (partial === undefined) {
        // Parsed again with HEAD_BYTES, unless the head already has them.
        noEarlyHeader = head.length === meta.length + HEAD_BYTES;
        return false;
      }
      early = { partial, interpreted: options.interpret(partial.header) };
    } catch (error) {
      early = { error };
    }
    return true;
  };
  const structure = createStructureWalker(options.transferSyntaxUid);
  const onChunk = structure && ((chunk: Buffer) => structure.write(chunk));
  const written = await writeReceivedFile(file, meta, data, { fsync: options.fsync, fd: options.fd, onHeadFilled, onChunk });

  const parseHeader = (): ParsedReceivedFile<T> => {
    // A data set of exactly HEAD_BYTES fills the head with its last chunk, and the early parse assumed more bytes.
    const earlyApplies = written.size > written.head.length;
    if (earlyApplies && early !== undefined) {
      if ('error' in early) throw early.error;
      return { ...written, header: completeHeader(file, written.head, early.partial, written.size), interpreted: early.interpreted };
    }
    if (earlyApplies && noEarlyHeader) return { ...written, header: undefined, interpreted: undefined };

    const header = parseReceivedHeader(file, written.head, meta.length, written.size, options.transferSyntaxUid);
    return { ...written, header, interpreted: header && options.interpret(header) };
  };
  const parsed = parseHeader();

  const structureError = structure?.end();
  if (structureError !== undefined) throw structureError;
  return parsed;
}

/** Returns a walker for data sets in `transferSyntaxUid`, or undefined for a deflated or unknown transfer syntax. */
function createStructureWalker(transferSyntaxUid: string): DatasetStructureWalker | undefined {
  const syntax = describeTransferSyntax(transferSyntaxUid);
  if (!syntax || syntax.deflated) return undefined;
  return new DatasetStructureWalker({ littleEndian: syntax.littleEndian, explicitVr: syntax.explicitVr });
}

/** A header parsed from the first bytes of a file whose size may not be known yet; completeHeader finishes it. */
interface PartialHeader {
  /** The header, with the head's length as a provisional file size. */
  header: DicomFileHeader;
  encoding: DatasetEncoding;
  stoppedAtTag: number | undefined;
  endOffset: number;
}

/**
 * Parses the header of a received file from its first bytes. `metaLength` is
 * the length of the meta information the archive wrote (preamble, 'DICM' and
 * group 0002 in explicit VR little endian).
 *
 * Returns undefined when the caller must read the header from the file with
 * readDicomFileHeader instead. That covers a header longer than `head`, a
 * deflated or unknown transfer syntax, and a data set whose first element
 * does not match the declared explicit or implicit VR. Element offsets are
 * file offsets, as readDicomFileHeader returns them.
 *
 * @throws DicomParseError when the data set bytes are damaged.
 */
export function parseReceivedHeader(
  path: string,
  head: Buffer,
  metaLength: number,
  fileSize: number,
  transferSyntaxUid: string,
): DicomFileHeader | undefined {
  const partial = parseHead(path, head, metaLength, transferSyntaxUid, head.length >= fileSize);
  return partial && completeHeader(path, head, partial, fileSize);
}

/**
 * Parses `head` as parseReceivedHeader does, except the checks that need the
 * file size. `wholeFile` is true when `head` is the whole file.
 */
function parseHead(path: string, head: Buffer, metaLength: number, transferSyntaxUid: string, wholeFile: boolean): PartialHeader | undefined {
  const syntax = describeTransferSyntax(transferSyntaxUid);
  if (!syntax || syntax.deflated) return undefined;
  const encoding: DatasetEncoding = { littleEndian: syntax.littleEndian, explicitVr: syntax.explicitVr };
  if (!startsWithEncoding(head, metaLength, encoding)) return undefined;

  const metaResult = parseDatasetDetailed(head, EXPLICIT_LITTLE_ENDIAN, {
    offset: PREAMBLE_AND_PREFIX_LENGTH,
    end: metaLength,
    stopAtTag: null,
    stopWhen: (tag) => tagGroup(tag) !== 0x0002,
  });

  let result;
  try {
    result = parseDatasetDetailed(head, encoding, { offset: metaLength });
  } catch (error) {
    if (error instanceof DicomParseError) {
      if (error.truncated && !wholeFile) return undefined;
      throw error.withPath(path);
    }
    throw error;
  }
  // Without a stop tag the parse ended at the end of `head`, and the file may have more header elements.
  if (result.stoppedAtTag === undefined && !wholeFile) return undefined;
  // The longest element header is 12 bytes; without it in `head`, the file read does the stop element check.
  if (result.stoppedAtTag !== undefined && result.endOffset + 12 > head.length && !wholeFile) return undefined;

  const hasPixelData = result.stoppedAtTag !== undefined && tagGroup(result.stoppedAtTag) === 0x7fe0;
  const header: DicomFileHeader = {
    path,
    fileSize: head.length,
    hasPreamble: true,
    meta: metaResult.dataset,
    transferSyntaxUid: metaResult.dataset.getString(Tags.TransferSyntaxUID) ?? transferSyntaxUid,
    dataset: result.dataset,
    datasetOffset: metaLength,
    hasPixelData,
    pixelDataOffset: hasPixelData ? result.endOffset : undefined,
    warnings: [...metaResult.warnings, ...result.warnings],
  };
  return { header, encoding, stoppedAtTag: result.stoppedAtTag, endOffset: result.endOffset };
}

/**
 * Finishes a partial header once the file size is known: checks that the
 * element the parse stopped at fits in the file.
 *
 * @throws DicomParseError when it does not.
 */
function completeHeader(path: string, head: Buffer, partial: PartialHeader, fileSize: number): DicomFileHeader {
  if (partial.stoppedAtTag !== undefined) {
    const overrun = describeStopElementOverrun(head, partial.endOffset, partial.encoding, partial.stoppedAtTag, fileSize);
    if (overrun !== undefined) throw new DicomParseError(overrun, partial.endOffset, true, path);
  }
  return { ...partial.header, fileSize };
}

/**
 * Returns true when the first data set element agrees with the declared VR
 * encoding: a known VR after the tag for explicit VR, none for implicit VR.
 * readDicomFileHeader reads a data set that disagrees in the guessed
 * encoding, so those go to the file read.
 *
 * NOTE: readDicomFileHeader also switches to implicit VR when an explicit VR
 * data set starts with a known VR but implausible elements. Such a data set
 * is parsed here as declared, and it is then usually rejected as unreadable.
 */
function startsWithEncoding(head: Buffer, offset: number, encoding: DatasetEncoding): boolean {
  if (offset + 6 > head.length) return false;
  return KNOWN_VRS.has(head.toString('latin1', offset + 4, offset + 6)) === encoding.explicitVr;
}
