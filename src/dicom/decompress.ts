/**
 * Conversion of a stored instance from an encapsulated (compressed) transfer
 * syntax to Explicit VR Little Endian, or to Implicit VR Little Endian through
 * the uncompressed converter (PS3.5 section 8.2 and annex A).
 *
 * Every element is copied as it is, except:
 * - Pixel Data, which becomes native OB (Bits Allocated 8) or OW with the
 *   decoded frames, padded to even length;
 * - Extended Offset Table and its lengths, which only encapsulated Pixel Data may have;
 * - Photometric Interpretation and Planar Configuration, where the decoder
 *   changed the layout (see codecs/index.ts);
 * - Lossy Image Compression (0028,2110), set to '01' when the codestream was
 *   lossy and the data set did not already say so. Lossy Image Compression
 *   Ratio (0028,2112) and Method (0028,2114) then get this compression's
 *   values appended after any earlier ones (PS3.3 C.7.6.1.1.5). A data set
 *   that already records '01' keeps its values, and gets this compression's ratio
 *   or method only where that attribute is missing. The ratio is the native
 *   Pixel Data size over the bytes of all fragments;
 * - group length elements of a group that one of those edits changes, and
 *   (7FE0,0000), because their value would be wrong (group lengths are
 *   retired, so they are dropped).
 *
 * Frames are read, decoded and written one at a time. The result is the data
 * set only: the caller writes file meta information where it needs one.
 */
import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

import { describeLossiness, decodeFrame, canDecode, frameByteLength, predictDecodedLayout } from './codecs';
import type { DecodedFrame, ImageInfo } from './codecs';
import { Dataset, formatTag, Tag } from './dataset';
import { locateFrames, readFrame } from './decompress-frames';
import type { EncapsulatedPixelData } from './decompress-frames';
import { readDicomFileHeader } from './file-reader';
import { LONG_LENGTH_VRS, Tags } from './tags';
import { syntaxName, transcodeBuffer } from './transcode';
import { TransferSyntax } from './uid';
import { createLogger } from '../services/logger';

const logger = createLogger('loader.decompress');

/** Syntaxes that decompression writes, in order of preference. */
export const DECOMPRESSION_TARGET_SYNTAXES: readonly string[] = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

/** An instance cannot be decompressed: no decoder for its syntax or image, or damaged pixel data. */
export class DecompressionError extends Error {
  override name = 'DecompressionError';
}

const LOSSY_IMAGE_COMPRESSION: Tag = 0x00282110;
const LOSSY_IMAGE_COMPRESSION_RATIO: Tag = 0x00282112;
const LOSSY_IMAGE_COMPRESSION_METHOD: Tag = 0x00282114;
const PHOTOMETRIC_INTERPRETATION: Tag = 0x00280004;
const PLANAR_CONFIGURATION: Tag = 0x00280006;
const NUMBER_OF_FRAMES: Tag = 0x00280008;

/** Size of the pieces the elements after Pixel Data are copied in. */
const COPY_CHUNK_BYTES = 1024 * 1024;
/** Largest value length a 32-bit length field holds; 0xFFFFFFFF means undefined length. */
const MAX_VALUE_LENGTH = 0xfffffffe;

/** Returns true when `decompressFile` has a decoder for instances stored in this syntax. */
export function canDecompress(storedSyntax: string): boolean {
  return canDecode(storedSyntax);
}

/**
 * Chooses the syntax to decompress an instance to: Explicit VR Little Endian
 * when the peer accepted it, else Implicit VR Little Endian. Returns undefined
 * when the peer accepted neither or no decoder handles the stored syntax.
 */
export function chooseDecompressionTarget(storedSyntax: string, acceptedSyntaxes: readonly string[]): string | undefined {
  if (!canDecompress(storedSyntax)) return undefined;
  return DECOMPRESSION_TARGET_SYNTAXES.find((syntax) => acceptedSyntaxes.includes(syntax));
}

/**
 * Returns the accepted presentation context for `sopClassUid` to send an
 * instance stored in `storedSyntax` on after decompressing it, chosen as
 * chooseDecompressionTarget does, or undefined when there is none.
 */
export function chooseDecompressionContext<C extends { abstractSyntax: string; transferSyntax: string }>(
  sopClassUid: string,
  storedSyntax: string,
  accepted: readonly C[],
): C | undefined {
  const forSopClass = accepted.filter((context) => context.abstractSyntax === sopClassUid);
  const target = chooseDecompressionTarget(storedSyntax, forSopClass.map((context) => context.transferSyntax));
  return target === undefined ? undefined : forSopClass.find((context) => context.transferSyntax === target);
}

/** Reads the Image Pixel attributes that the decoders need. Throws DecompressionError when one is missing. */
export function readImageInfo(dataset: Dataset): ImageInfo {
  const required = (tag: Tag, name: string): number => {
    const value = dataset.getNumber(tag);
    if (value === undefined) throw new DecompressionError(`${name} ${formatTag(tag)} is missing, so the pixel data cannot be decoded`);
    return value;
  };
  const samplesPerPixel = dataset.getNumber(Tags.SamplesPerPixel) ?? 1;
  const bitsAllocated = required(Tags.BitsAllocated, 'Bits Allocated');
  return {
    rows: required(Tags.Rows, 'Rows'),
    columns: required(Tags.Columns, 'Columns'),
    bitsAllocated,
    bitsStored: dataset.getNumber(Tags.BitsStored) ?? bitsAllocated,
    pixelRepresentation: dataset.getNumber(Tags.PixelRepresentation) ?? 0,
    samplesPerPixel,
    planarConfiguration: dataset.getNumber(PLANAR_CONFIGURATION) ?? 0,
    photometricInterpretation: dataset.getString(PHOTOMETRIC_INTERPRETATION) ?? (samplesPerPixel === 1 ? 'MONOCHROME2' : 'RGB'),
  };
}

/**
 * Decompresses the data set of a file stored in an encapsulated syntax and
 * returns it as a stream of `targetSyntax` bytes, which is Explicit or
 * Implicit VR Little Endian. The header checks, the frame table and the first
 * frame's decode happen before this resolves, so most failures reject it
 * with DecompressionError or a CodecError. Later frames that fail end the
 * stream with an 'error' event. `expectedSyntax`, when given, must equal
 * the file's transfer syntax.
 */
export async function decompressFile(path: string, targetSyntax: string = TransferSyntax.ExplicitVRLittleEndian, expectedSyntax?: string): Promise<Readable> {
  if (!DECOMPRESSION_TARGET_SYNTAXES.includes(targetSyntax)) {
    throw new DecompressionError(`cannot decompress to ${syntaxName(targetSyntax)}; only to Explicit or Implicit VR Little Endian`);
  }
  const header = await readDicomFileHeader(path);
  const syntax = header.transferSyntaxUid;
  if (expectedSyntax !== undefined && syntax !== expectedSyntax) {
    throw new DecompressionError(`${path} has transfer syntax ${syntax} but the archive index lists ${expectedSyntax}; run "loader reindex"`);
  }
  if (!canDecompress(syntax)) throw new DecompressionError(`no decoder for pixel data in ${syntaxName(syntax)}`);
  if (!header.hasPixelData || header.pixelDataOffset === undefined) throw new DecompressionError(`${path} has no Pixel Data to decompress`);

  const info = readImageInfo(header.dataset);
  const numberOfFrames = header.dataset.getNumber(NUMBER_OF_FRAMES) ?? 1;
  const pixelDataOffset = header.pixelDataOffset;
  const file = await fs.promises.open(path, 'r');
  try {
    const group = await locateFrames(file, pixelDataOffset, header.fileSize, numberOfFrames, syntax);
    const pixelData = group.pixelData;
    for (const warning of group.warnings) logger.warn('Decompressing despite a fault in Pixel Data', { path, warning });
    if (pixelData.frames.length !== numberOfFrames) {
      throw new DecompressionError(`Pixel Data contains ${pixelData.frames.length} frames but Number of Frames is ${numberOfFrames}`);
    }
    const totalBytes = frameByteLength(info) * numberOfFrames;
    if (totalBytes + (totalBytes % 2) > MAX_VALUE_LENGTH) {
      throw new DecompressionError(`decompressed Pixel Data would be ${totalBytes} bytes, more than a 32-bit value length allows`);
    }
    const first = await decodeFrame(syntax, await readFrame(file, pixelData.frames[0]), info);

    const head = await readRange(file, header.datasetOffset, pixelDataOffset);
    const lossy = first.lossy || describeLossiness(syntax).alwaysLossy;
    const edits = planEdits(header.dataset, syntax, info, lossy, totalBytes / Math.max(pixelData.compressedBytes, 1));
    const keptElements = await Promise.all(group.keptRanges.map((range) => readRange(file, range.start, range.end)));
    const elementsBefore = Buffer.concat([applyEdits(head, header.dataset, header.datasetOffset, edits), ...keptElements]);

    const output = Readable.from(
      writeDataset({ file, syntax, info, targetSyntax, elementsBefore, pixelData, first, lossy, fileSize: header.fileSize }),
      { objectMode: false },
    );
    output.once('close', () => void file.close().catch(() => undefined));
    return output;
  } catch (error) {
    await file.close();
    throw error;
  }
}

interface DatasetParts {
  file: FileHandle;
  syntax: string;
  info: ImageInfo;
  targetSyntax: string;
  /** Explicit VR little endian elements before Pixel Data, edits applied. */
  elementsBefore: Buffer;
  pixelData: EncapsulatedPixelData;
  first: DecodedFrame;
  lossy: boolean;
  fileSize: number;
}

async function* writeDataset(parts: DatasetParts): AsyncGenerator<Buffer> {
  const { file, syntax, info, pixelData } = parts;
  const implicit = parts.targetSyntax === TransferSyntax.ImplicitVRLittleEndian;
  // NOTE: converting to Implicit VR keeps the elements before and after Pixel Data in memory twice; frames still stream.
  yield implicit ? await transcodeBuffer(parts.elementsBefore, TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian) : parts.elementsBefore;

  const totalBytes = frameByteLength(info) * pixelData.frames.length;
  yield encodePixelDataHeader(info, totalBytes + (totalBytes % 2), implicit);
  yield parts.first.pixels;
  // NOTE: one frame at a time is held whole: its compressed bytes, the decoder's copy in WebAssembly
  // memory and the decoded frame. The WebAssembly heap keeps its largest size until the process exits.
  for (let index = 1; index < pixelData.frames.length; index++) {
    const decoded = await decodeFrame(syntax, await readFrame(file, pixelData.frames[index]), info);
    if (decoded.lossy && !parts.lossy) {
      // The header, already sent, states that the image is lossless, and a lossy later frame would make that false.
      throw new DecompressionError(`frame ${index + 1} is lossy but frame 1 is not, so Lossy Image Compression cannot be set correctly`);
    }
    yield decoded.pixels;
  }
  if (totalBytes % 2 === 1) yield Buffer.alloc(1);

  if (implicit) {
    const after = await readRange(file, pixelData.endOffset, parts.fileSize);
    if (after.length > 0) yield await transcodeBuffer(after, TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian);
    return;
  }
  for (let position = pixelData.endOffset; position < parts.fileSize; position += COPY_CHUNK_BYTES) {
    yield await readRange(file, position, Math.min(position + COPY_CHUNK_BYTES, parts.fileSize));
  }
}

async function readRange(file: FileHandle, start: number, end: number): Promise<Buffer> {
  const buffer = Buffer.alloc(end - start);
  const { bytesRead } = await file.read(buffer, 0, buffer.length, start);
  if (bytesRead < buffer.length) throw new DecompressionError(`file ends at byte ${start + bytesRead}, before byte ${end}`);
  return buffer;
}

function encodePixelDataHeader(info: ImageInfo, length: number, implicit: boolean): Buffer {
  const header = Buffer.alloc(implicit ? 8 : 12);
  header.writeUInt16LE(0x7fe0, 0);
  header.writeUInt16LE(0x0010, 2);
  if (implicit) {
    header.writeUInt32LE(length, 4);
    return header;
  }
  header.write(info.bitsAllocated > 8 ? 'OW' : 'OB', 4, 'latin1');
  header.writeUInt32LE(length, 8);
  return header;
}

/** Top-level elements to replace or add, each encoded whole in explicit VR little endian. */
type Edits = Map<Tag, Buffer>;

function planEdits(dataset: Dataset, syntax: string, info: ImageInfo, lossy: boolean, compressionRatio: number): Edits {
  const edits: Edits = new Map();
  const layout = predictDecodedLayout(syntax, info);
  if (layout.photometricInterpretation !== info.photometricInterpretation || !dataset.has(PHOTOMETRIC_INTERPRETATION)) {
    edits.set(PHOTOMETRIC_INTERPRETATION, encodeText(PHOTOMETRIC_INTERPRETATION, 'CS', layout.photometricInterpretation));
  }
  if (info.samplesPerPixel > 1 && dataset.getNumber(PLANAR_CONFIGURATION) !== layout.planarConfiguration) {
    edits.set(PLANAR_CONFIGURATION, encodeUnsignedShort(PLANAR_CONFIGURATION, layout.planarConfiguration));
  }

  if (!lossy) return edits;
  const ratio = formatDecimal(compressionRatio);
  const method = describeLossiness(syntax).method;
  const ratios = dataset.getStrings(LOSSY_IMAGE_COMPRESSION_RATIO);
  const methods = dataset.getStrings(LOSSY_IMAGE_COMPRESSION_METHOD);
  if (dataset.getString(LOSSY_IMAGE_COMPRESSION) !== '01') {
    // This compression is not recorded yet: its ratio and method follow any earlier ones.
    edits.set(LOSSY_IMAGE_COMPRESSION, encodeText(LOSSY_IMAGE_COMPRESSION, 'CS', '01'));
    edits.set(LOSSY_IMAGE_COMPRESSION_RATIO, encodeText(LOSSY_IMAGE_COMPRESSION_RATIO, 'DS', [...ratios, ratio].join('\\')));
    if (method !== undefined) edits.set(LOSSY_IMAGE_COMPRESSION_METHOD, encodeText(LOSSY_IMAGE_COMPRESSION_METHOD, 'CS', [...methods, method].join('\\')));
    return edits;
  }
  // The data set already records lossy compression: existing values stay, and only a missing ratio or method is filled in.
  if (ratios.length === 0) edits.set(LOSSY_IMAGE_COMPRESSION_RATIO, encodeText(LOSSY_IMAGE_COMPRESSION_RATIO, 'DS', ratio));
  if (methods.length === 0 && method !== undefined) edits.set(LOSSY_IMAGE_COMPRESSION_METHOD, encodeText(LOSSY_IMAGE_COMPRESSION_METHOD, 'CS', method));
  return edits;
}

/** Formats a ratio as a Decimal String of at most 16 characters. */
function formatDecimal(value: number): string {
  return value >= 1e12 ? value.toExponential(6) : value.toFixed(2);
}

function encodeText(tag: Tag, vr: string, text: string): Buffer {
  const value = Buffer.from(text.length % 2 === 1 ? `${text} ` : text, 'latin1');
  return Buffer.concat([encodeShortHeader(tag, vr, value.length), value]);
}

function encodeUnsignedShort(tag: Tag, number: number): Buffer {
  const value = Buffer.alloc(2);
  value.writeUInt16LE(number, 0);
  return Buffer.concat([encodeShortHeader(tag, 'US', 2), value]);
}

function encodeShortHeader(tag: Tag, vr: string, length: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.write(vr, 4, 'latin1');
  header.writeUInt16LE(length, 6);
  return header;
}

/** Group of Pixel Data, whose length always changes. */
const PIXEL_DATA_GROUP = 0x7fe0;

/**
 * Returns the elements in `head` (the file bytes from `base` up to Pixel
 * Data) with the edits applied: an edited element present in the data set is
 * replaced where it is, a missing one is inserted in tag order. The group
 * length elements of edited groups and of group 7FE0 are dropped.
 */
function applyEdits(head: Buffer, dataset: Dataset, base: number, edits: Edits): Buffer {
  const editedGroups = new Set([...edits.keys()].map((tag) => tag >>> 16));
  editedGroups.add(PIXEL_DATA_GROUP);
  const staleGroupLength = [...dataset.elements.keys()].some((tag) => (tag & 0xffff) === 0 && editedGroups.has(tag >>> 16));
  if (edits.size === 0 && !staleGroupLength) return head;
  const starts = [...dataset.elements.values()]
    .map((element) => ({ tag: element.tag, start: elementStart(head, element.tag, element.vr, element.offset - base) }))
    .sort((a, b) => a.start - b.start);
  const pending = [...edits.entries()].sort((a, b) => a[0] - b[0]);
  const parts: Buffer[] = [];

  for (let index = 0; index < starts.length; index++) {
    const { tag, start } = starts[index];
    const end = index + 1 < starts.length ? starts[index + 1].start : head.length;
    while (pending.length > 0 && pending[0][0] < tag) parts.push(pending.shift()![1]);
    if (pending.length > 0 && pending[0][0] === tag) {
      parts.push(pending.shift()![1]);
      continue;
    }
    if ((tag & 0xffff) === 0 && editedGroups.has(tag >>> 16)) continue;
    parts.push(head.subarray(start, end));
  }
  for (const [, encoded] of pending) parts.push(encoded);
  return Buffer.concat(parts);
}

/**
 * Returns the offset in `head` of the tag of the element whose value starts
 * at `valueOffset`: 12 bytes before it for the explicit VR long form, 8 for
 * the short form or an implicit VR element that the parser tolerated.
 */
function elementStart(head: Buffer, tag: Tag, vr: string, valueOffset: number): number {
  const candidates = LONG_LENGTH_VRS.has(vr) ? [12, 8] : [8];
  for (const headerBytes of candidates) {
    const start = valueOffset - headerBytes;
    if (start < 0 || start + 4 > head.length) continue;
    const tagMatches = head.readUInt16LE(start) === tag >>> 16 && head.readUInt16LE(start + 2) === (tag & 0xffff);
    if (!tagMatches) continue;
    if (headerBytes === 12 && head.toString('latin1', start + 4, start + 6) !== vr) continue;
    return start;
  }
  throw new DecompressionError(`cannot locate the header of element ${formatTag(tag)} at byte offset ${valueOffset}`);
}
