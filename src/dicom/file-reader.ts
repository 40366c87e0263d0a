/**
 * Reads the header of a DICOM file: the file meta information (PS3.10 section
 * 7.1) and the data set up to Pixel Data, from the first bytes of the file only.
 *
 * Besides standard Part 10 files (128-byte preamble, 'DICM', group 0002 in
 * explicit VR little endian), it reads files that start directly with group
 * 0002. It also reads raw data sets without file meta information (ACR-NEMA
 * style) and guesses their encoding from the first elements.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';

import { decodeText } from './charset';
import { Dataset, DatasetEncoding, Element, formatTag, Tag, tagGroup, UNDEFINED_LENGTH } from './dataset';
import { DatasetParseResult, DicomParseError, parseDatasetDetailed } from './parser';
import { KNOWN_VRS, LONG_LENGTH_VRS, lookupVr, Tags } from './tags';
import { describeTransferSyntax, isValidUid, TransferSyntax } from './uid';

export interface DicomFileHeader {
  path: string;
  fileSize: number;
  /**
   * The file's modification time (fs.Stats.mtimeMs) from the stat that gave
   * fileSize, taken before the first read. Set by readDicomFileHeader and
   * readDicomFileHeaderSync, not by parseDicomFileHeader.
   */
  modifiedMs?: number;
  /** The file starts with the 128-byte preamble and 'DICM'. */
  hasPreamble: boolean;
  /** File meta information, group 0002; empty when the file has none. */
  meta: Dataset;
  /** From (0002,0010), or the guessed transfer syntax when the file has no meta information. */
  transferSyntaxUid: string;
  /** The data set up to Pixel Data (7FE0,0010) or the options.stopAtTag element. */
  dataset: Dataset;
  /**
   * Byte offset of the first data set byte after the file meta group. For a
   * deflated transfer syntax, element offsets inside `dataset` count from the
   * start of the inflated data set instead of the file.
   */
  datasetOffset: number;
  /** Parsing stopped before a top-level element of group 7FE0 (Pixel Data and related). */
  hasPixelData: boolean;
  /** File offset of the tag of that pixel data element; undefined for deflated files or when absent. */
  pixelDataOffset?: number;
  /** Tolerated faults, each naming the fact a user could fix. */
  warnings: string[];
}

export interface ReadHeaderOptions {
  /** Top-level tag to stop before (default: the pixel data group, see parser.DEFAULT_STOP_TAG); null reads everything. */
  stopAtTag?: Tag | null;
  /** Return the elements parsed before damage, with the damage as a warning, instead of throwing. */
  partial?: boolean;
  /**
   * Leave the values of readDicomFileHeaderSync's data sets in its shared read
   * buffer instead of copying the header bytes. They are then valid only until
   * the next call, so the caller must take what it needs at once.
   */
  borrowBuffer?: boolean;
}

/** The file is clearly not DICOM. */
export class NotDicomError extends Error {
  override name = 'NotDicomError';

  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: not a DICOM file: ${reason}`);
  }
}

/**
 * Bytes read first. The headers of the CT and MR sample files are a few KiB,
 * so one read is expected to be enough for most files. A larger header, as in
 * enhanced multi-frame objects, is read again with 4 times the size until it fits.
 */
export const INITIAL_CHUNK_SIZE = 64 * 1024;

/**
 * Open flags of the header readers. O_NONBLOCK makes an open of a FIFO return
 * at once instead of waiting for a writer, so a folder entry that became a
 * FIFO after the walk checked its type is rejected below, not read. Reads of
 * regular files ignore the flag.
 */
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

/** Throws NotDicomError unless `stats` describe a regular file. */
function requireRegularFile(path: string, stats: fs.Stats): void {
  if (!stats.isFile()) throw new NotDicomError(path, 'not a regular file (a FIFO, socket or device); it was not read');
}
const CHUNK_GROWTH_FACTOR = 4;

const EXPLICIT_LITTLE_ENDIAN: DatasetEncoding = { littleEndian: true, explicitVr: true };
const IMPLICIT_LITTLE_ENDIAN: DatasetEncoding = { littleEndian: true, explicitVr: false };
const EXPLICIT_BIG_ENDIAN: DatasetEncoding = { littleEndian: false, explicitVr: true };

/** Returned by parseHeader when the chunk ended before the header did and the file has more bytes. */
const NEED_MORE_BYTES = Symbol('need more bytes');

/**
 * Reads the header of a DICOM file. Throws NotDicomError or DicomParseError,
 * including when the element it stops before (usually Pixel Data) has a
 * defined length that runs past the end of the file.
 */
export async function readDicomFileHeader(path: string, options: ReadHeaderOptions = {}): Promise<DicomFileHeader> {
  const handle = await fs.promises.open(path, OPEN_FLAGS);
  try {
    const stats = await handle.stat();
    requireRegularFile(path, stats);
    const { size: fileSize, mtimeMs } = stats;
    let chunkSize = Math.min(fileSize, INITIAL_CHUNK_SIZE);
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkSize);
      const { bytesRead } = await handle.read(chunk, 0, chunkSize, 0);
      const header = parseHeader(path, chunk.subarray(0, bytesRead), fileSize, options);
      if (header !== NEED_MORE_BYTES) {
        header.modifiedMs = mtimeMs;
        return header;
      }
      chunkSize = Math.min(fileSize, chunkSize * CHUNK_GROWTH_FACTOR);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Parses the header of a DICOM file of `fileSize` bytes from its first bytes
 * in `chunk`, for callers that have read them already. Returns undefined when
 * the header continues past `chunk`; the caller then reads more bytes or calls
 * readDicomFileHeader. Throws like readDicomFileHeader.
 */
export function parseDicomFileHeader(path: string, chunk: Buffer, fileSize: number, options: ReadHeaderOptions = {}): DicomFileHeader | undefined {
  const header = parseHeader(path, chunk, fileSize, options);
  return header === NEED_MORE_BYTES ? undefined : header;
}

/** Buffer reused by readDicomFileHeaderSync for the first read, so a folder scan allocates little. */
let scratchBuffer: Buffer | undefined;

/**
 * Synchronous twin of readDicomFileHeader for folder scans. It reuses one read
 * buffer, and the returned data sets refer to a copy of just the header bytes.
 */
export function readDicomFileHeaderSync(path: string, options: ReadHeaderOptions = {}): DicomFileHeader {
  const fd = fs.openSync(path, OPEN_FLAGS);
  try {
    const stats = fs.fstatSync(fd);
    requireRegularFile(path, stats);
    const { size: fileSize, mtimeMs } = stats;
    let chunkSize = Math.min(fileSize, INITIAL_CHUNK_SIZE);
    for (;;) {
      let chunk: Buffer;
      if (chunkSize <= INITIAL_CHUNK_SIZE) {
        scratchBuffer ??= Buffer.allocUnsafeSlow(INITIAL_CHUNK_SIZE);
        chunk = scratchBuffer;
      } else {
        chunk = Buffer.allocUnsafe(chunkSize);
      }
      const bytesRead = fs.readSync(fd, chunk, 0, chunkSize, 0);
      const header = parseHeader(path, chunk.subarray(0, bytesRead), fileSize, options);
      if (header !== NEED_MORE_BYTES) {
        header.modifiedMs = mtimeMs;
        return header;
      }
      chunkSize = Math.min(fileSize, chunkSize * CHUNK_GROWTH_FACTOR);
    }
  } finally {
    fs.closeSync(fd);
  }
}

interface MetaLayout {
  hasPreamble: boolean;
  /** Offset of the first group 0002 element, or undefined when the file has no meta information. */
  metaOffset?: number;
}

function detectLayout(chunk: Buffer): MetaLayout {
  if (chunk.length >= 132 && chunk.toString('latin1', 128, 132) === 'DICM') return { hasPreamble: true, metaOffset: 132 };
  // Some writers drop the preamble but keep the prefix.
  if (chunk.length >= 4 && chunk.toString('latin1', 0, 4) === 'DICM') return { hasPreamble: false, metaOffset: 4 };
  if (startsWithMetaGroup(chunk, 0)) return { hasPreamble: false, metaOffset: 0 };
  return { hasPreamble: false };
}

function startsWithMetaGroup(chunk: Buffer, offset: number): boolean {
  return chunk.length >= offset + 8 && chunk.readUInt16LE(offset) === 0x0002 && chunk.readUInt16LE(offset + 2) <= 0x0102;
}

function hasExplicitVrAt(chunk: Buffer, offset: number): boolean {
  return offset + 6 <= chunk.length && KNOWN_VRS.has(chunk.toString('latin1', offset + 4, offset + 6));
}

/**
 * Parses the header from the first `chunk.length` bytes of a file of
 * `fileSize` bytes, or returns NEED_MORE_BYTES when the header continues past
 * the chunk and the file has more bytes.
 */
function parseHeader(
  path: string,
  chunk: Buffer,
  fileSize: number,
  options: ReadHeaderOptions,
): DicomFileHeader | typeof NEED_MORE_BYTES {
  const wholeFile = chunk.length >= fileSize;
  if (fileSize === 0) throw new NotDicomError(path, 'the file is empty');

  const warnings: string[] = [];
  const layout = detectLayout(chunk);

  let meta: Dataset;
  let datasetOffset: number;
  let transferSyntaxUid: string;
  let encoding: DatasetEncoding;
  let deflated = false;

  if (layout.metaOffset !== undefined) {
    const metaResult = parseMetaGroup(path, chunk, layout.metaOffset, fileSize, warnings);
    if (metaResult === NEED_MORE_BYTES) return NEED_MORE_BYTES;
    meta = metaResult.dataset;
    datasetOffset = metaResult.endOffset;
    warnings.push(...metaResult.warnings);
    checkGroupLength(meta, datasetOffset, warnings);

    const declared = meta.getString(Tags.TransferSyntaxUID);
    const guessed = datasetOffset < chunk.length ? guessEncoding(chunk, datasetOffset, fileSize) : undefined;
    if (!declared) {
      const fallback = guessed ?? IMPLICIT_LITTLE_ENDIAN;
      transferSyntaxUid = transferSyntaxFor(fallback);
      encoding = fallback;
      warnings.push(
        `The file meta information has no Transfer Syntax UID (0002,0010); the data set was read as ${describeEncoding(fallback)}.`,
      );
    } else {
      transferSyntaxUid = declared;
      const info = describeTransferSyntax(declared);
      if (!info) {
        if (!isValidUid(declared)) warnings.push(`Transfer Syntax UID (0002,0010) "${declared}" is not a valid UID.`);
        warnings.push(`Transfer syntax ${declared} is unknown; the data set was read as explicit VR little endian, as every compressed transfer syntax is.`);
        encoding = EXPLICIT_LITTLE_ENDIAN;
      } else {
        encoding = { littleEndian: info.littleEndian, explicitVr: info.explicitVr };
        deflated = info.deflated;
      }
      if (!deflated && guessed && guessed.explicitVr !== encoding.explicitVr && guessed.littleEndian === encoding.littleEndian) {
        warnings.push(
          `Transfer syntax ${declared} declares ${describeEncoding(encoding)} but the data set is ${describeEncoding(guessed)}; it was read as ${describeEncoding(guessed)}.`,
        );
        encoding = guessed;
      }
    }
  } else {
    const guessed = guessEncoding(chunk, 0, fileSize);
    if (!guessed) throw new NotDicomError(path, describeWhyNotDicom(chunk));
    meta = new Dataset(EXPLICIT_LITTLE_ENDIAN, decodeText);
    datasetOffset = 0;
    encoding = guessed;
    transferSyntaxUid = transferSyntaxFor(guessed);
    warnings.push(
      `The file has no DICM prefix and no file meta information (PS3.10 section 7.1); the data set was read as ${describeEncoding(guessed)}, guessed from its first elements.`,
    );
  }

  let source = chunk;
  let parseOffset = datasetOffset;
  if (deflated) {
    const inflated = inflateDataset(chunk.subarray(datasetOffset), warnings);
    if (inflated === undefined) {
      if (!wholeFile) return NEED_MORE_BYTES;
      throw new DicomParseError('The deflated data set could not be inflated', datasetOffset, false, path);
    }
    source = inflated;
    parseOffset = 0;
  }

  let result: DatasetParseResult;
  try {
    result = parseDatasetDetailed(source, encoding, {
      offset: parseOffset,
      stopAtTag: options.stopAtTag,
      partial: options.partial,
    });
  } catch (error) {
    if (error instanceof DicomParseError && error.truncated && !wholeFile) return NEED_MORE_BYTES;
    throw describeParseError(error, path, fileSize, 'data set', deflated);
  }
  if (result.error) {
    if (result.error.truncated && !wholeFile) return NEED_MORE_BYTES;
    warnings.push(describeParseError(result.error, path, fileSize, 'data set', deflated).message);
  }
  warnings.push(...result.warnings);
  const fileMetaTags = listFileMetaElements(result.dataset);
  if (fileMetaTags.length > 0) warnings.push(describeFileMetaElementsInDataset(fileMetaTags));

  const hasPixelData = result.stoppedAtTag !== undefined && tagGroup(result.stoppedAtTag) === 0x7fe0;
  const endOffset = result.endOffset;

  // The data set offsets of a deflated file count in inflated bytes, so they cannot be compared with the file size.
  if (result.stoppedAtTag !== undefined && !deflated) {
    const stopElement = readStopElementHeader(source, endOffset, encoding);
    if (stopElement === undefined && !wholeFile) return NEED_MORE_BYTES;
    const truncation = describeStopElementTruncation(stopElement, result.stoppedAtTag, endOffset, fileSize);
    if (truncation !== undefined) {
      const error = new DicomParseError(truncation, endOffset, true, path);
      if (!options.partial) throw error;
      warnings.push(error.message);
    }
  }

  // Copy only the header bytes, so the returned data sets neither pin the read buffer nor change when it is reused.
  const dataset = result.dataset;
  if (!options.borrowBuffer) {
    rebaseValues(meta, chunk, layout.metaOffset ?? 0, datasetOffset);
    rebaseValues(dataset, source, parseOffset, endOffset);
  }

  return {
    path,
    fileSize,
    hasPreamble: layout.hasPreamble,
    meta,
    transferSyntaxUid,
    dataset,
    datasetOffset,
    hasPixelData,
    pixelDataOffset: hasPixelData && !deflated ? endOffset : undefined,
    warnings,
  };
}

/**
 * Parses the file meta information group (0002,xxxx) that starts at
 * `metaOffset`, or returns NEED_MORE_BYTES when it continues past `chunk` and
 * the file has more bytes. Throws DicomParseError when the group is damaged.
 */
function parseMetaGroup(
  path: string,
  chunk: Buffer,
  metaOffset: number,
  fileSize: number,
  warnings: string[],
): DatasetParseResult | typeof NEED_MORE_BYTES {
  const metaEncoding = hasExplicitVrAt(chunk, metaOffset) ? EXPLICIT_LITTLE_ENDIAN : IMPLICIT_LITTLE_ENDIAN;
  if (!metaEncoding.explicitVr) {
    warnings.push('The file meta information is encoded in implicit VR; PS3.10 section 7.1 requires explicit VR little endian.');
  }
  let walk: DatasetParseResult;
  try {
    walk = parseDatasetDetailed(chunk, metaEncoding, {
      offset: metaOffset,
      stopAtTag: null,
      stopWhen: (tag) => tagGroup(tag) !== 0x0002,
    });
  } catch (error) {
    if (error instanceof DicomParseError && error.truncated && chunk.length < fileSize) return NEED_MORE_BYTES;
    throw describeParseError(error, path, fileSize, 'file meta information');
  }
  return parseToStatedGroupEnd(chunk, metaOffset, metaEncoding, walk) ?? walk;
}

/** Bytes of a File Meta Information Group Length (0002,0000) element: tag, VR or length field, and the 4-byte UL value. */
const GROUP_LENGTH_ELEMENT_BYTES = 12;

/**
 * Parses the file meta information again up to the end that File Meta
 * Information Group Length (0002,0000) states, when that end lies inside the
 * group 0002 elements that `walk` read, on an element boundary. PS3.10 section
 * 7.1 allows group 0002 only in the file meta information. So the group 0002
 * elements after that end belong to the data set, and they must not override
 * the Transfer Syntax UID or the Media Storage UIDs of the file.
 *
 * Returns undefined when the stated end cannot be used, and the caller then
 * uses the walk to the first element of another group. That is the case when
 * the file meta information does not start with the group length, when the
 * stated end lies at or past the end of the walk (a length that is too long)
 * or inside an element (too short), and when the elements before it lack a
 * Transfer Syntax UID (0002,0010) that the walk found. checkGroupLength then
 * warns about the wrong length.
 */
function parseToStatedGroupEnd(
  chunk: Buffer,
  metaOffset: number,
  encoding: DatasetEncoding,
  walk: DatasetParseResult,
): DatasetParseResult | undefined {
  // The group length is read from the first element only. A second (0002,0000) further on replaces it in
  // walk.dataset, and that one may come from the data set.
  if (metaOffset + GROUP_LENGTH_ELEMENT_BYTES > walk.endOffset) return undefined;
  if (chunk.readUInt16LE(metaOffset) !== 0x0002 || chunk.readUInt16LE(metaOffset + 2) !== 0x0000) return undefined;
  if (encoding.explicitVr && chunk.toString('latin1', metaOffset + 4, metaOffset + 6) !== 'UL') return undefined;
  const valueLength = encoding.explicitVr ? chunk.readUInt16LE(metaOffset + 6) : chunk.readUInt32LE(metaOffset + 4);
  if (valueLength !== 4) return undefined;

  const statedEnd = metaOffset + GROUP_LENGTH_ELEMENT_BYTES + chunk.readUInt32LE(metaOffset + 8);
  if (statedEnd >= walk.endOffset) return undefined;

  const stated = parseDatasetDetailed(chunk, encoding, {
    offset: metaOffset,
    end: statedEnd,
    stopAtTag: null,
    stopWhen: (tag) => tagGroup(tag) !== 0x0002,
    partial: true,
  });
  if (stated.error || stated.endOffset !== statedEnd) return undefined;
  if (walk.dataset.has(Tags.TransferSyntaxUID) && !stated.dataset.has(Tags.TransferSyntaxUID)) return undefined;
  return stated;
}

/**
 * Lists the top-level group 0002 elements of a data set. PS3.10 section 7.1
 * allows them only in the file meta information, so the header readers keep
 * them as data set elements and never take the transfer syntax or the SOP
 * Class and SOP Instance UIDs from them.
 */
export function listFileMetaElements(dataset: Dataset): Tag[] {
  const tags: Tag[] = [];
  for (const tag of dataset.elements.keys()) {
    if (tagGroup(tag) === 0x0002) tags.push(tag);
  }
  return tags;
}

/** Returns the header warning for the group 0002 elements `tags` found in a data set. */
function describeFileMetaElementsInDataset(tags: Tag[]): string {
  return (
    `The data set contains the File Meta Information elements ${tags.map(formatTag).join(', ')}, which belong only in ` +
    'the file meta information (PS3.10 section 7.1); they were kept as data set elements, and they set neither the ' +
    'transfer syntax nor the SOP Class and SOP Instance UIDs.'
  );
}

/** Start offset of the data set of a Part 10 file, and the transfer syntax its meta information declares. */
export interface DatasetLocation {
  transferSyntaxUid: string;
  /** Byte offset of the first data set byte after the file meta group. */
  datasetOffset: number;
  /** Media Storage SOP Instance UID (0002,0003), undefined when the meta group lacks it. */
  mediaStorageSopInstanceUid?: string;
  /** Media Storage SOP Class UID (0002,0002), undefined when the meta group lacks it. */
  mediaStorageSopClassUid?: string;
}

/**
 * Reads the Transfer Syntax UID (0002,0010) and the data set offset of a file
 * of `fileSize` bytes from its first bytes in `chunk`, parsing only the file
 * meta information. For a file with a declared transfer syntax, the two values
 * equal those of parseDicomFileHeader. Returns undefined when the meta group
 * continues past `chunk`, or when the file has no meta group or no Transfer
 * Syntax UID, whose syntax only parseDicomFileHeader can guess. Throws
 * DicomParseError for a damaged meta group.
 *
 * NOTE: the data set is not checked. A file damaged or cut after its meta
 * group passes, so callers compare the file size with a recorded one.
 */
export function locateDataset(path: string, chunk: Buffer, fileSize: number): DatasetLocation | undefined {
  if (fileSize === 0) throw new NotDicomError(path, 'the file is empty');
  const layout = detectLayout(chunk);
  if (layout.metaOffset === undefined) return undefined;
  const metaResult = parseMetaGroup(path, chunk, layout.metaOffset, fileSize, []);
  if (metaResult === NEED_MORE_BYTES) return undefined;
  const transferSyntaxUid = metaResult.dataset.getString(Tags.TransferSyntaxUID);
  if (!transferSyntaxUid) return undefined;
  return {
    transferSyntaxUid,
    datasetOffset: metaResult.endOffset,
    mediaStorageSopInstanceUid: metaResult.dataset.getString(Tags.MediaStorageSOPInstanceUID) || undefined,
    mediaStorageSopClassUid: metaResult.dataset.getString(Tags.MediaStorageSOPClassUID) || undefined,
  };
}

interface StopElementHeader {
  headerLength: number;
  /** Value length as encoded, or UNDEFINED_LENGTH. */
  length: number;
}

/**
 * Reads the header of the element that parsing stopped before, or returns
 * undefined when `chunk` ends before the header does.
 */
function readStopElementHeader(chunk: Buffer, offset: number, encoding: DatasetEncoding): StopElementHeader | undefined {
  const readLength32 = (at: number) => (encoding.littleEndian ? chunk.readUInt32LE(at) : chunk.readUInt32BE(at));
  if (offset + 8 > chunk.length) return undefined;

  const vr = chunk.toString('latin1', offset + 4, offset + 6);
  // An element without VR bytes inside an explicit VR data set is read as implicit VR, as the parser does.
  if (!encoding.explicitVr || !/^[A-Z]{2}$/.test(vr)) return { headerLength: 8, length: readLength32(offset + 4) };

  // Unknown VRs of two upper-case letters are read with the 32-bit length form, as the parser does.
  if (LONG_LENGTH_VRS.has(vr) || !KNOWN_VRS.has(vr)) {
    if (offset + 12 > chunk.length) return undefined;
    return { headerLength: 12, length: readLength32(offset + 8) };
  }
  const length = encoding.littleEndian ? chunk.readUInt16LE(offset + 6) : chunk.readUInt16BE(offset + 6);
  return { headerLength: 8, length };
}

/**
 * Returns why the element that parsing stopped before (usually Pixel Data)
 * does not fit in the file, or undefined when it fits. Reading stops before
 * the value, so without this check a file cut inside its pixel data would
 * pass as complete.
 *
 * NOTE: an undefined-length value (encapsulated pixel data) is not followed to
 * its Sequence Delimitation Item, so a file cut inside its fragments passes here.
 */
/**
 * Returns why the element a header read stopped before (usually Pixel Data)
 * runs past the end of the file, or undefined when its value fits. `chunk`
 * must contain the element's header; callers holding only the start of a file
 * fall back to readDicomFileHeader when it does not.
 */
export function describeStopElementOverrun(
  chunk: Buffer,
  offset: number,
  encoding: DatasetEncoding,
  tag: Tag,
  fileSize: number,
): string | undefined {
  return describeStopElementTruncation(readStopElementHeader(chunk, offset, encoding), tag, offset, fileSize);
}

function describeStopElementTruncation(
  element: StopElementHeader | undefined,
  tag: Tag,
  offset: number,
  fileSize: number,
): string | undefined {
  // Callers wrap the result in a DicomParseError, whose message adds "(at byte offset <offset>)".
  if (element === undefined) {
    return `The file is truncated: it has ${fileSize} bytes and ends inside the header of element ${formatTag(tag)}`;
  }
  if (element.length === UNDEFINED_LENGTH) return undefined;
  const valueEnd = offset + element.headerLength + element.length;
  if (valueEnd <= fileSize) return undefined;
  return `The file is truncated: it has ${fileSize} bytes, but element ${formatTag(tag)} declares a value of ${element.length} bytes and needs ${valueEnd - fileSize} more bytes`;
}

function checkGroupLength(meta: Dataset, datasetOffset: number, warnings: string[]): void {
  const groupLength = meta.getNumber(Tags.FileMetaInformationGroupLength);
  const lengthElement = meta.get(Tags.FileMetaInformationGroupLength);
  if (groupLength === undefined || !lengthElement) {
    warnings.push('The file meta information has no File Meta Information Group Length (0002,0000).');
    return;
  }
  const groupStart = lengthElement.offset + 4;
  if (groupStart + groupLength !== datasetOffset) {
    warnings.push(
      `File Meta Information Group Length (0002,0000) is ${groupLength} but group 0002 is ${datasetOffset - groupStart} bytes long; the actual length was used.`,
    );
  }
}

function transferSyntaxFor(encoding: DatasetEncoding): string {
  if (!encoding.littleEndian) return TransferSyntax.ExplicitVRBigEndian;
  return encoding.explicitVr ? TransferSyntax.ExplicitVRLittleEndian : TransferSyntax.ImplicitVRLittleEndian;
}

function describeEncoding(encoding: DatasetEncoding): string {
  return `${encoding.explicitVr ? 'explicit' : 'implicit'} VR ${encoding.littleEndian ? 'little' : 'big'} endian`;
}

/**
 * Guesses the encoding of a data set from its first elements: explicit VR
 * when the bytes after the first tag are a known VR, big endian when the tag
 * group only makes sense byte-swapped. Returns undefined when no encoding
 * yields at least two plausible elements (or one that ends the file).
 */
function guessEncoding(chunk: Buffer, offset: number, fileSize: number): DatasetEncoding | undefined {
  const candidates: DatasetEncoding[] = [];
  if (hasExplicitVrAt(chunk, offset)) candidates.push(EXPLICIT_LITTLE_ENDIAN, EXPLICIT_BIG_ENDIAN);
  candidates.push(IMPLICIT_LITTLE_ENDIAN);

  for (const encoding of candidates) {
    if (isPlausibleStart(chunk, offset, fileSize, encoding)) return encoding;
  }
  return undefined;
}

/** Elements that guessEncoding parses at most for each candidate encoding. */
const PLAUSIBLE_ELEMENTS = 2;

function isPlausibleStart(chunk: Buffer, offset: number, fileSize: number, encoding: DatasetEncoding): boolean {
  if (offset + 8 > chunk.length) return false;
  const group = encoding.littleEndian ? chunk.readUInt16LE(offset) : chunk.readUInt16BE(offset);
  // Data sets start with a low even group: 0000 (legacy command group), 0002, 0008 or at most the patient group.
  if (group % 2 !== 0 || group > 0x0010) return false;
  if (!encoding.explicitVr) {
    const tag = ((group << 16) | (encoding.littleEndian ? chunk.readUInt16LE(offset + 2) : chunk.readUInt16BE(offset + 2))) >>> 0;
    const length = chunk.readUInt32LE(offset + 4);
    if (length !== 0xffffffff && offset + 8 + length > fileSize) return false;
    if (lookupVr(tag) === 'UN' && tagGroup(tag) !== 0) return false;
  }

  // Two elements decide, so the trial parse stops before a third. Parsing the whole first chunk here took
  // about a fifth of `loader scan` in a CPU profile, because the header parse then reads it again.
  let started = 0;
  const stopWhen = () => ++started > PLAUSIBLE_ELEMENTS;
  const result = parseDatasetDetailed(chunk, encoding, { offset, partial: true, stopWhen });
  const count = result.dataset.elements.size;
  if (!result.error) return count >= 1;
  if (result.error.truncated && chunk.length < fileSize) return count >= 1;
  return count >= 2;
}

function describeWhyNotDicom(chunk: Buffer): string {
  if (chunk.length < 132) {
    return `no DICM prefix (the file has only ${chunk.length} bytes) and no plausible data set at its start`;
  }
  return 'no DICM prefix at byte offset 128 and no plausible data set at its start';
}

/**
 * Inflates a deflated data set (PS3.5 section A.5: raw deflate, RFC 1951).
 * With part of the file only, Z_SYNC_FLUSH returns the bytes decodable so far.
 * Returns undefined when the bytes cannot be inflated.
 */
function inflateDataset(compressed: Buffer, warnings: string[]): Buffer | undefined {
  const flushOptions = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
  try {
    return zlib.inflateRawSync(compressed, flushOptions);
  } catch {
    // Some writers add a zlib header (RFC 1950). It is accepted with a warning.
  }
  try {
    const inflated = zlib.inflateSync(compressed, flushOptions);
    warnings.push('The deflated data set has a zlib header; PS3.5 section A.5 requires raw deflate without one.');
    return inflated;
  } catch {
    return undefined;
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function describeParseError(error: unknown, path: string, fileSize: number, part: string, deflated = false): Error {
  if (!(error instanceof DicomParseError)) return error as Error;
  const offsetNote = deflated ? ' (offsets count from the start of the inflated data set)' : '';
  const reason = error.truncated
    ? `The ${part} is truncated: the file has ${fileSize} bytes, but ${lowerFirst(error.reason)}${offsetNote}`
    : `The ${part} is damaged: ${error.reason}${offsetNote}`;
  return error.withPath(path, reason);
}

/**
 * Copies bytes [start, end) of `source` and points every element value of
 * `dataset` (including items) at the copy, so the data set keeps only the
 * header bytes alive.
 */
function rebaseValues(dataset: Dataset, source: Buffer, start: number, end: number): void {
  const copy = Buffer.from(source.subarray(start, end));
  const visit = (current: Dataset) => {
    for (const element of current.elements.values()) rebaseElement(element, copy, start);
  };
  const rebaseElement = (element: Element, target: Buffer, base: number) => {
    if (element.value) {
      const from = element.offset - base;
      element.value = target.subarray(from, from + element.value.length);
    }
    if (element.items) for (const item of element.items) visit(item);
  };
  visit(dataset);
}
