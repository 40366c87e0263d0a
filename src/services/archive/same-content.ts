/**
 * Decides whether a received or scanned file contains the same data set as a
 * stored file of its SOP Instance UID, also when the sender encoded it in another
 * transfer syntax. DICOM lets any sender re-encode a data set for the
 * syntax its association negotiated (PS3.5 section 10), so a modality or
 * PACS that sends an instance again in Implicit VR after an Explicit VR send
 * sends the same instance.
 */

import { Readable } from 'node:stream';
import { UNDEFINED_LENGTH, type DatasetEncoding, type Tag } from '../../dicom/dataset';
import { readDicomFileHeader, readDicomFileHeaderSync, type DicomFileHeader } from '../../dicom/file-reader';
import { DicomParseError, MAX_SEQUENCE_DEPTH } from '../../dicom/parser';
import { lookupVr } from '../../dicom/tags';
import { ChunkReader } from '../../dicom/transcode-reader';
import { canTranscode, transcodeFile, transcodeSequenceValue, TranscodeError } from '../../dicom/transcode';
import { TransferSyntax } from '../../dicom/uid';
import { datasetBytesEqual, datasetBytesEqualSync, type DatasetLocation } from './file-ops';

/**
 * Result of comparing a received or scanned file with a stored one:
 * - 'identical': the data set bytes are equal;
 * - 're-encoded': the bytes differ, but both data sets contain the same elements
 *   with the same values;
 * - 'different': the content differs, or the loader cannot tell (a compressed
 *   transfer syntax, an unreadable or damaged file).
 */
export interface ContentComparison {
  kind: 'identical' | 're-encoded' | 'different';
  /** Transfer syntax UID of the stored file; undefined when its header is unreadable. */
  storedTransferSyntaxUid?: string;
}

/**
 * Encoding both data sets are converted to before comparing. Implicit VR has
 * no VR field, so the comparison covers tags and values but not VRs, which
 * implicit VR data sets take from the dictionary. The converter also writes
 * every sequence and item with undefined length and drops group lengths, so
 * the length form that a sender chose makes no difference either. The
 * converter copies a private sequence of defined length read in implicit VR
 * as a UN value, so normalizeUnknownValue converts that value afterwards.
 */
const CANONICAL_SYNTAX = TransferSyntax.ImplicitVRLittleEndian;

/** A file's data set: where it starts in the file and its transfer syntax. */
export interface EncodedDataset extends DatasetLocation {
  transferSyntaxUid: string;
}

/**
 * Result of compareBytesSync: the comparison when the bytes settle it, or
 * 'undecided' with the stored data set to pass to compareDecodedValues.
 */
export type ByteComparison = ContentComparison | { kind: 'undecided'; stored: EncodedDataset };

/** Compares the data set of `candidatePath`, whose header is `candidate`, with that of `storedPath`. */
export async function compareContent(storedPath: string, candidatePath: string, candidate: DicomFileHeader): Promise<ContentComparison> {
  let stored: DicomFileHeader;
  try {
    stored = await readDicomFileHeader(storedPath);
  } catch {
    return { kind: 'different' };
  }
  const bytesEqual = await datasetBytesEqual(
    { path: storedPath, datasetOffset: stored.datasetOffset },
    { path: candidatePath, datasetOffset: candidate.datasetOffset },
  );
  if (bytesEqual) return { kind: 'identical', storedTransferSyntaxUid: stored.transferSyntaxUid };

  return compareDecodedValues(
    { path: storedPath, datasetOffset: stored.datasetOffset, transferSyntaxUid: stored.transferSyntaxUid },
    { path: candidatePath, datasetOffset: candidate.datasetOffset, transferSyntaxUid: candidate.transferSyntaxUid },
  );
}

/**
 * Compares the data set bytes synchronously, as the first step of
 * compareContent does, for a scan that must not wait inside its batch
 * transaction. When the bytes differ and both transfer syntaxes are
 * uncompressed, only compareDecodedValues can decide, so the result is 'undecided'.
 */
export function compareBytesSync(storedPath: string, candidate: EncodedDataset): ByteComparison {
  let stored: DicomFileHeader;
  try {
    stored = readDicomFileHeaderSync(storedPath);
  } catch {
    return { kind: 'different' };
  }
  const storedTransferSyntaxUid = stored.transferSyntaxUid;
  if (datasetBytesEqualSync({ path: storedPath, datasetOffset: stored.datasetOffset }, candidate)) {
    return { kind: 'identical', storedTransferSyntaxUid };
  }
  if (!valuesComparable(storedTransferSyntaxUid, candidate.transferSyntaxUid)) return { kind: 'different', storedTransferSyntaxUid };
  return { kind: 'undecided', stored: { path: storedPath, datasetOffset: stored.datasetOffset, transferSyntaxUid: storedTransferSyntaxUid } };
}

/**
 * Compares two data sets whose bytes differ by converting both to
 * CANONICAL_SYNTAX, with UI values padded alike (normalizeUidPadding):
 * 're-encoded' when the results are equal, and 'different' otherwise or when
 * either syntax is compressed.
 */
export async function compareDecodedValues(stored: EncodedDataset, candidate: EncodedDataset): Promise<ContentComparison> {
  const storedTransferSyntaxUid = stored.transferSyntaxUid;
  if (!valuesComparable(storedTransferSyntaxUid, candidate.transferSyntaxUid)) return { kind: 'different', storedTransferSyntaxUid };

  const same = await streamsEqual(
    normalizeUidPadding(transcodeFile(stored.path, stored.datasetOffset, storedTransferSyntaxUid, CANONICAL_SYNTAX)),
    normalizeUidPadding(transcodeFile(candidate.path, candidate.datasetOffset, candidate.transferSyntaxUid, CANONICAL_SYNTAX)),
  );
  return { kind: same ? 're-encoded' : 'different', storedTransferSyntaxUid };
}

/** Longest UI value that normalizeUidPadding reads whole; a longer one is copied unchanged. */
const MAX_UID_VALUE_BYTES = 64 * 1024;

/**
 * Maximum length of a UN value that normalizeElements reads whole to try it as
 * a sequence. NOTE: a longer private sequence received in implicit VR is copied
 * unchanged, so it still differs from the same sequence stored as SQ.
 */
const MAX_UNKNOWN_SEQUENCE_BYTES = 16 * 1024 * 1024;

/** Encoding of CANONICAL_SYNTAX and of the items of a UN sequence (PS3.5 section 6.2.2). */
const IMPLICIT_LITTLE_ENDIAN: DatasetEncoding = { explicitVr: false, littleEndian: true };

/** Tag (FFFE,E000) of an item, as its first 4 bytes read in little endian. */
const ITEM_TAG_LITTLE_ENDIAN = 0xe000fffe;

/** Size of the pieces that normalizeUidPadding copies other values in. */
const COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * Streams a data set in CANONICAL_SYNTAX with each UI value's trailing NUL and
 * space bytes removed and one NUL added back where the length is odd. PS3.5
 * section 9.1 pads a UID with a single NUL, but legacy senders pad with a space,
 * and a copy that differs only in this padding is the same instance. Closes
 * `source` when the output stream ends or is destroyed.
 */
export function normalizeUidPadding(source: Readable): Readable {
  const output = Readable.from(normalizeElements(new ChunkReader(source)), { objectMode: false });
  output.once('close', () => source.destroy());
  // A damaged data set fails the conversion, and the comparison then counts it as a difference.
  source.once('error', (error) => output.destroy(error));
  return output;
}

/**
 * Yields the elements that `reader` reads, rewriting UI values and the UN
 * values that normalizeUnknownValue reads as sequences. CANONICAL_SYNTAX gives
 * every sequence and item an undefined length, so item and delimiter headers
 * pass through and the elements inside them are read like top-level ones.
 * `depth` counts the UN values converted around the elements.
 */
async function* normalizeElements(reader: ChunkReader, depth = 0): AsyncGenerator<Buffer> {
  while (!(await reader.atEnd())) {
    const header = await reader.read(8, 'Element header');
    const group = header.readUInt16LE(0);
    const tag = ((group << 16) | header.readUInt16LE(2)) >>> 0;
    const length = header.readUInt32LE(4);
    if (group === 0xfffe || length === UNDEFINED_LENGTH) {
      yield header;
      continue;
    }

    if (lookupVr(tag) === 'UI' && length <= MAX_UID_VALUE_BYTES) {
      const value = await reader.read(length, 'UI value');
      let end = value.length;
      while (end > 0 && (value[end - 1] === 0x00 || value[end - 1] === 0x20)) end--;
      const padded = end % 2 === 0 ? value.subarray(0, end) : Buffer.concat([value.subarray(0, end), Buffer.from([0])]);
      const rewritten = Buffer.from(header);
      rewritten.writeUInt32LE(padded.length, 4);
      yield rewritten;
      yield padded;
      continue;
    }

    if (await mayBeUnknownSequence(reader, tag, length, depth)) {
      const value = await reader.read(length, 'UN value');
      yield* normalizeUnknownValue(tag, header, value, depth);
      continue;
    }

    yield header;
    for (let remaining = length; remaining > 0; ) {
      const piece = await reader.read(Math.min(remaining, COPY_CHUNK_BYTES), 'Value');
      remaining -= piece.length;
      yield piece;
    }
  }
}

/**
 * Returns true when the next value, of `length` bytes, may be a sequence of
 * defined length from an implicit VR sender. Its tag is unknown to the
 * dictionary (VR UN), and the value starts with an item tag.
 */
async function mayBeUnknownSequence(reader: ChunkReader, tag: Tag, length: number, depth: number): Promise<boolean> {
  if (lookupVr(tag) !== 'UN' || length < 8 || length > MAX_UNKNOWN_SEQUENCE_BYTES || depth >= MAX_SEQUENCE_DEPTH) return false;
  const first = await reader.peek(4);
  return first !== undefined && first.readUInt32LE(0) === ITEM_TAG_LITTLE_ENDIAN;
}

/**
 * Yields a UN value that reads as implicit VR little endian items as the
 * sequence of undefined length that CANONICAL_SYNTAX gives an SQ element, and
 * any other value unchanged. An implicit VR data set does not carry the VR of
 * a private sequence. So when a sender re-encodes an explicit VR SQ of defined
 * length in implicit VR, as DCMTK 3.6.7 storescu -xi does, the converter cannot
 * tell its items from a binary value.
 */
async function* normalizeUnknownValue(tag: Tag, header: Buffer, value: Buffer, depth: number): AsyncGenerator<Buffer> {
  let sequence: Buffer;
  try {
    sequence = await transcodeSequenceValue(tag, value, IMPLICIT_LITTLE_ENDIAN, IMPLICIT_LITTLE_ENDIAN, depth);
  } catch (error) {
    if (!(error instanceof TranscodeError || error instanceof DicomParseError)) throw error;
    // A value that is not a series of items stays a plain UN value, which differs from any SQ element.
    yield header;
    yield value;
    return;
  }
  yield* normalizeElements(new ChunkReader(Readable.from([sequence], { objectMode: false })), depth + 1);
}

/**
 * Returns true when the converter reads both syntaxes, so a comparison of
 * values can find two encodings of one data set.
 */
function valuesComparable(storedTransferSyntaxUid: string, candidateTransferSyntaxUid: string): boolean {
  // NOTE: a compressed (encapsulated) transfer syntax on either side stays 'different', also when the pixels
  // decode to the same values, because comparing them needs a decoder and, for lossy syntaxes, a tolerance.
  return canTranscode(storedTransferSyntaxUid, CANONICAL_SYNTAX) && canTranscode(candidateTransferSyntaxUid, CANONICAL_SYNTAX);
}

/**
 * Returns true when both streams yield the same bytes. A stream error (a
 * damaged data set) counts as a difference. Destroys both streams before it
 * returns.
 */
export async function streamsEqual(a: Readable, b: Readable): Promise<boolean> {
  const iteratorA = a[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const iteratorB = b[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let chunkA: Buffer = Buffer.alloc(0);
  let chunkB: Buffer = Buffer.alloc(0);
  let endedA = false;
  let endedB = false;
  try {
    for (;;) {
      if (chunkA.length === 0 && !endedA) {
        const next = await iteratorA.next();
        if (next.done) endedA = true;
        else chunkA = next.value;
        continue;
      }
      if (chunkB.length === 0 && !endedB) {
        const next = await iteratorB.next();
        if (next.done) endedB = true;
        else chunkB = next.value;
        continue;
      }
      if (endedA || endedB) return endedA && endedB && chunkA.length === 0 && chunkB.length === 0;

      const size = Math.min(chunkA.length, chunkB.length);
      if (!chunkA.subarray(0, size).equals(chunkB.subarray(0, size))) return false;
      chunkA = chunkA.subarray(size);
      chunkB = chunkB.subarray(size);
    }
  } catch {
    return false;
  } finally {
    a.destroy();
    b.destroy();
  }
}
