/**
 * Writes a received data set to a temporary file and parses its header from
 * the bytes kept in memory on the way, so the receive path never reads the
 * file back unless the header is longer than HEAD_BYTES.
 */

import fsp, { type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { DatasetEncoding } from '../../dicom/dataset';
import { tagGroup } from '../../dicom/dataset';
import type { DicomFileHeader } from '../../dicom/file-reader';
import { DicomParseError, parseDatasetDetailed } from '../../dicom/parser';
import { KNOWN_VRS, Tags } from '../../dicom/tags';
import { describeTransferSyntax } from '../../dicom/uid';
import { FILE_MODE } from './layout';

/**
 * Data set bytes kept in memory for the header parse. It is the size of the
 * first read of readDicomFileHeader, which fits the headers of single-frame
 * CT and MR images. Longer headers (enhanced multi-frame objects) are read
 * from the file instead.
 */
export const HEAD_BYTES = 64 * 1024;

/**
 * Bytes collected before one writev call. Network chunks are PDV fragments
 * of a few KiB to 16 KiB, so batching saves many thread pool round trips per
 * instance. At most two batches are in memory per transfer.
 */
const WRITE_BATCH_BYTES = 256 * 1024;

const PREAMBLE_AND_PREFIX_LENGTH = 132;
const EXPLICIT_LITTLE_ENDIAN: DatasetEncoding = { littleEndian: true, explicitVr: true };

export interface ReceivedFile {
  /** File size in bytes: meta information plus data set. */
  size: number;
  /** The file's first bytes: the whole meta information and up to HEAD_BYTES of the data set. */
  head: Buffer;
}

/**
 * Creates `file` (it must not exist), writes `meta` and then the stream's
 * bytes, and closes it. With `fsync` the data is flushed to disk before the
 * file is closed. Reading the stream pauses while two write batches are
 * pending, so a slow disk slows the sender down instead of filling memory.
 */
export async function writeReceivedFile(file: string, meta: Buffer, data: Readable, options: { fsync: boolean }): Promise<ReceivedFile> {
  const handle = await fsp.open(file, 'wx', FILE_MODE);
  const head = Buffer.allocUnsafe(meta.length + HEAD_BYTES);
  meta.copy(head);
  let headLength = meta.length;
  let size = meta.length;

  let batch: Buffer[] = [meta];
  let batchBytes = meta.length;
  let position = 0;
  let pendingWrite: Promise<void> | undefined;
  try {
    for await (const chunk of data) {
      const bytes = chunk as Buffer;
      if (headLength < head.length) headLength += bytes.copy(head, headLength);
      size += bytes.length;
      batch.push(bytes);
      batchBytes += bytes.length;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        await pendingWrite;
        pendingWrite = writeAll(handle, batch, position);
        // The rejection is handled where pendingWrite is awaited; this only stops an early unhandled-rejection report.
        pendingWrite.catch(() => undefined);
        position += batchBytes;
        batch = [];
        batchBytes = 0;
      }
    }
    await pendingWrite;
    pendingWrite = undefined;
    if (batch.length > 0) await writeAll(handle, batch, position);
    if (options.fsync) await handle.sync();
  } finally {
    // A write still in flight after a stream error must finish before its descriptor is closed.
    await pendingWrite?.catch(() => undefined);
    await handle.close();
  }
  return { size, head: head.subarray(0, headLength) };
}

/** Writes every buffer at `position`, repeating the call after a short write. */
async function writeAll(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let remaining = buffers;
  let offset = position;
  for (;;) {
    const total = remaining.reduce((sum, buffer) => sum + buffer.length, 0);
    const { bytesWritten } = await handle.writev(remaining, offset);
    if (bytesWritten >= total) return;
    offset += bytesWritten;
    remaining = dropBytes(remaining, bytesWritten);
  }
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
  const syntax = describeTransferSyntax(transferSyntaxUid);
  if (!syntax || syntax.deflated) return undefined;
  const encoding: DatasetEncoding = { littleEndian: syntax.littleEndian, explicitVr: syntax.explicitVr };
  if (!startsWithEncoding(head, metaLength, encoding)) return undefined;
  const wholeFile = head.length >= fileSize;

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

  const hasPixelData = result.stoppedAtTag !== undefined && tagGroup(result.stoppedAtTag) === 0x7fe0;
  return {
    path,
    fileSize,
    hasPreamble: true,
    meta: metaResult.dataset,
    transferSyntaxUid: metaResult.dataset.getString(Tags.TransferSyntaxUID) ?? transferSyntaxUid,
    dataset: result.dataset,
    datasetOffset: metaLength,
    hasPixelData,
    pixelDataOffset: hasPixelData ? result.endOffset : undefined,
    warnings: [...metaResult.warnings, ...result.warnings],
  };
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
