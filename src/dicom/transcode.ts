/**
 * Conversion of a data set between the uncompressed transfer syntaxes Implicit
 * VR Little Endian, Explicit VR Little Endian and Explicit VR Big Endian, and
 * from Deflated Explicit VR Little Endian to them (PS3.5 section 7 and annex A).
 *
 * The converter streams: it reads element headers one by one and copies each
 * value in chunks, so memory stays bounded by one chunk plus the sequence
 * nesting, whatever the size of Pixel Data. Values keep their bytes except
 * where the target encoding needs a change:
 * - implicit to explicit adds the VR from the data dictionary (UN for unknown
 *   and private tags, LO for private creators), and explicit to implicit drops it;
 * - a change of byte order swaps each value of the binary VRs in SWAP_UNIT_BYTES;
 * - sequences and items are written with undefined length and delimitation
 *   items, so no enclosing length needs recomputing;
 * - a value longer than 0xFFFF bytes in a VR with a 16-bit length field is
 *   written as UN in explicit VR (PS3.5 section 6.2.2);
 * - group length elements (gggg,0000) are dropped, because header sizes and
 *   sequence lengths change and would make them wrong. Outside groups 0000
 *   and 0002 they are retired (PS3.5 section 7.2).
 * Text values, Specific Character Set included, are never changed. Encapsulated
 * (compressed) pixel data is not converted: that needs a codec.
 */
import * as fs from 'fs';
import { Readable, pipeline } from 'stream';
import * as zlib from 'zlib';

import { DatasetEncoding, formatTag, Tag, UNDEFINED_LENGTH } from './dataset';
import { MAX_SEQUENCE_DEPTH } from './parser';
import { KNOWN_VRS, LONG_LENGTH_VRS, lookupVr, Tags } from './tags';
import { ChunkReader } from './transcode-reader';
import { describeTransferSyntax, TransferSyntax } from './uid';

/** Syntaxes the converter writes. */
export const TRANSCODE_TARGET_SYNTAXES: readonly string[] = [
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
];

/** Syntaxes the converter reads: the targets plus Deflated Explicit VR Little Endian. */
export const TRANSCODE_SOURCE_SYNTAXES: readonly string[] = [
  ...TRANSCODE_TARGET_SYNTAXES,
  TransferSyntax.DeflatedExplicitVRLittleEndian,
];

/** The converter does not support this pair of transfer syntaxes. */
export class TranscodeError extends Error {
  override name = 'TranscodeError';
}

/** Returns true when the converter can produce `to` from a data set stored in `from`. */
export function canTranscode(from: string, to: string): boolean {
  return TRANSCODE_SOURCE_SYNTAXES.includes(stripPadding(from)) && TRANSCODE_TARGET_SYNTAXES.includes(stripPadding(to));
}

/**
 * Streams the converted data set of a file: the bytes from `datasetOffset`
 * (the first byte after the file meta information) to the end of the file.
 * Throws TranscodeError at once for an unsupported pair of syntaxes. Damage in
 * the data set surfaces as an 'error' event on the returned stream.
 */
export function transcodeFile(path: string, datasetOffset: number, from: string, to: string): Readable {
  assertConvertible(from, to);
  const file = fs.createReadStream(path, { start: datasetOffset, highWaterMark: VALUE_CHUNK_BYTES });
  let source: Readable = file;
  if (isDeflated(from)) {
    const inflate = zlib.createInflateRaw();
    // pipeline() forwards a read error of the file to the inflate stream, which then ends the conversion with it.
    pipeline(file, inflate, () => undefined);
    source = inflate;
  }
  const converted = coalesce(convertDataset(source, from, to));
  const output = Readable.from(closeOnFinish(converted, source), { objectMode: false, highWaterMark: OUTPUT_CHUNK_BYTES });
  return output;
}

/**
 * Converts a data set held in memory and returns the converted bytes. Throws
 * TranscodeError for an unsupported pair of syntaxes or an invalid structure,
 * and DicomParseError when the bytes end inside an element.
 */
export async function transcodeBuffer(dataset: Buffer, from: string, to: string): Promise<Buffer> {
  assertConvertible(from, to);
  const source = isDeflated(from) ? zlib.inflateRawSync(dataset) : dataset;
  const parts: Buffer[] = [];
  for await (const part of coalesce(convertDataset(Readable.from([source], { objectMode: false }), from, to))) parts.push(part);
  return Buffer.concat(parts);
}

/**
 * Converts `value`, the value of a sequence of defined length whose items are
 * encoded in `input`, and returns the element `tag` as a sequence of undefined
 * length in `output`, header included. Throws TranscodeError or
 * DicomParseError when `value` is not a series of items that ends exactly at
 * its end, or when items nest more than MAX_SEQUENCE_DEPTH levels below `depth`.
 */
export async function transcodeSequenceValue(
  tag: Tag,
  value: Buffer,
  input: DatasetEncoding,
  output: DatasetEncoding,
  depth = 0,
): Promise<Buffer> {
  const converter = new Converter(new ChunkReader(Readable.from([value], { objectMode: false })));
  const parts: Buffer[] = [];
  for await (const part of converter.convertSequence(tag, 'SQ', input, output, value.length, depth)) parts.push(part);
  return Buffer.concat(parts);
}

/** Throws TranscodeError naming both syntaxes when canTranscode(from, to) is false. */
export function assertConvertible(from: string, to: string): void {
  if (canTranscode(from, to)) return;
  throw new TranscodeError(`cannot convert from ${syntaxName(from)} to ${syntaxName(to)}`);
}

/** Returns the name of a transfer syntax, or its UID when the loader does not know it. */
export function syntaxName(uid: string): string {
  return describeTransferSyntax(uid)?.name ?? stripPadding(uid);
}

/** Size of the pieces a long value is copied in; a multiple of every swap unit. */
const VALUE_CHUNK_BYTES = 1024 * 1024;
/** Output is gathered into pieces of about this size, so that element headers do not travel one by one. */
const OUTPUT_CHUNK_BYTES = 64 * 1024;
/** Values up to this length are read whole; longer ones are copied in chunks. */
const WHOLE_VALUE_MAX_BYTES = 64 * 1024;

/** Implicit VR little endian: the encoding of the items of a UN sequence (PS3.5 section 6.2.2). */
const IMPLICIT_LITTLE_ENDIAN: DatasetEncoding = { explicitVr: false, littleEndian: true };

/** Byte size of one value of each VR whose bytes are swapped when the byte order changes (PS3.5 section 7.3). */
const SWAP_UNIT_BYTES: Record<string, number> = {
  US: 2, SS: 2, OW: 2, AT: 2,
  UL: 4, SL: 4, FL: 4, OF: 4, OL: 4,
  FD: 8, OD: 8, OV: 8, SV: 8, UV: 8,
};

/**
 * Tags whose VR is "US or SS" in PS3.6, following Pixel Representation
 * (0028,0103): SS when it is 1, else US. The LUT descriptors, also "US or SS",
 * are written as US because their first and third values are always unsigned.
 */
const PIXEL_VALUE_TAGS = new Set<Tag>([
  0x00189810, 0x00221452, 0x00280071, 0x00280104, 0x00280105, 0x00280106, 0x00280107, 0x00280108, 0x00280109,
  0x00280110, 0x00280111, 0x00280120, 0x00280121, 0x00409211, 0x00409216, 0x00603004, 0x00603006,
]);

const BITS_ALLOCATED: Tag = 0x00280100;
const PIXEL_REPRESENTATION: Tag = 0x00280103;

function stripPadding(uid: string): string {
  return uid.replace(/[\0 ]+$/, '');
}

function isDeflated(uid: string): boolean {
  return describeTransferSyntax(uid)?.deflated === true;
}

function encodingOf(uid: string): DatasetEncoding {
  const syntax = describeTransferSyntax(uid);
  if (!syntax) throw new TranscodeError(`unknown transfer syntax ${uid}`);
  return { explicitVr: syntax.explicitVr, littleEndian: syntax.littleEndian };
}

/** Pixel attributes of one data set or item, which decide the explicit VR of Pixel Data and of US-or-SS values. */
interface PixelAttributes {
  bitsAllocated?: number;
  pixelRepresentation?: number;
}

/** Reads from `source` and yields the converted data set in pieces. */
async function* convertDataset(source: AsyncIterable<Buffer | string>, from: string, to: string): AsyncGenerator<Buffer> {
  const converter = new Converter(new ChunkReader(source));
  yield* converter.convertElements(encodingOf(from), encodingOf(to), { depth: 0, topLevel: true });
}

interface Level {
  depth: number;
  topLevel: boolean;
  /** Offset just after the item, for an item of defined length. */
  end?: number;
}

interface ElementHeader {
  tag: Tag;
  vr: string;
  length: number;
}

class Converter {
  constructor(private readonly reader: ChunkReader) {}

  /**
   * Converts the elements of a data set or item. A top-level data set ends at
   * the end of the stream, an item of defined length at level.end, and an item
   * of undefined length after its Item Delimitation Item, which is consumed
   * here. The caller writes the item's own delimiter.
   */
  async *convertElements(input: DatasetEncoding, output: DatasetEncoding, level: Level): AsyncGenerator<Buffer> {
    const reader = this.reader;
    const pixel: PixelAttributes = {};

    for (;;) {
      if (level.end !== undefined && reader.position >= level.end) return;
      if (level.topLevel && (await reader.atEnd())) return;

      const start = reader.position;
      const head = await reader.read(8, 'Element header');
      const tag = readTag(head, 0, input.littleEndian);

      if (tag === Tags.ItemDelimitationItem) {
        if (!level.topLevel && level.end === undefined) return;
        continue; // A stray delimiter carries no data; the parser skips it too.
      }
      if (tag === Tags.SequenceDelimitationItem) continue;
      if (tag === Tags.Item) {
        throw new TranscodeError(`unexpected item tag ${formatTag(tag)} outside a sequence at byte offset ${start}`);
      }
      if (level.topLevel && tag === 0 && head.readUInt32LE(4) === 0) {
        // Old writers pad the end of a data set with zeros; there is no tag (0000,0000) in a data set.
        await this.skipZeroPadding(start);
        return;
      }

      const header = await this.readHeader(head, tag, input);
      if (level.end !== undefined && header.length !== UNDEFINED_LENGTH && reader.position + header.length > level.end) {
        throw new TranscodeError(
          `value of ${formatTag(tag)} (${header.vr}) at byte offset ${start} has length ${header.length}, past the end of its item`,
        );
      }
      // A group length is a 4-byte UL; a longer value is copied like any unknown element.
      if ((tag & 0xffff) === 0 && header.length <= 4) {
        await reader.read(header.length, 'Group length');
        continue;
      }
      yield* this.convertElement(header, input, output, pixel, level.depth);
    }
  }

  private async skipZeroPadding(start: number): Promise<void> {
    while (!(await this.reader.atEnd())) {
      const available = await this.reader.fill(VALUE_CHUNK_BYTES);
      const bytes = await this.reader.read(available, 'Padding');
      if (bytes.some((byte) => byte !== 0)) {
        throw new TranscodeError(`element with tag (0000,0000) at byte offset ${start} is followed by non-zero bytes`);
      }
    }
  }

  /** Reads the rest of an element header whose first 8 bytes are `head`; mirrors the parser's tolerance of implicit elements in explicit data sets. */
  private async readHeader(head: Buffer, tag: Tag, input: DatasetEncoding): Promise<ElementHeader> {
    const littleEndian = input.littleEndian;
    if (!input.explicitVr) {
      return { tag, vr: lookupVr(tag), length: readUint32(head, 4, littleEndian) };
    }
    const vr = head.toString('latin1', 4, 6);
    if (KNOWN_VRS.has(vr)) {
      if (!LONG_LENGTH_VRS.has(vr)) return { tag, vr, length: readUint16(head, 6, littleEndian) };
      const length = await this.reader.read(4, `Element ${formatTag(tag)} header`);
      return { tag, vr, length: readUint32(length, 0, littleEndian) };
    }
    if (!/^[A-Z]{2}$/.test(vr)) {
      return { tag, vr: lookupVr(tag), length: readUint32(head, 4, littleEndian) };
    }
    // NOTE: an unknown VR of two upper-case letters is read with the 32-bit length form, as the parser does.
    const length = await this.reader.read(4, `Element ${formatTag(tag)} header`);
    return { tag, vr: 'UN', length: readUint32(length, 0, littleEndian) };
  }

  private async *convertElement(
    header: ElementHeader,
    input: DatasetEncoding,
    output: DatasetEncoding,
    pixel: PixelAttributes,
    depth: number,
  ): AsyncGenerator<Buffer> {
    const { tag, length } = header;
    const vr = header.vr;

    if (length === UNDEFINED_LENGTH) {
      if (tag === Tags.PixelData || vr === 'OB' || vr === 'OW') {
        throw new TranscodeError(`${formatTag(tag)} has undefined length, so it is encapsulated, which an uncompressed transfer syntax does not allow`);
      }
      if (vr === 'SQ' || !input.explicitVr) {
        // In implicit VR only a sequence can have undefined length, whatever VR the dictionary lists.
        yield* this.convertSequence(tag, 'SQ', input, output, undefined, depth);
        return;
      }
      if (vr === 'UN') {
        // The items of a UN sequence are implicit VR little endian (PS3.5 section 6.2.2). A
        // sequence known to the dictionary becomes SQ; any other stays UN with implicit items.
        if (lookupVr(tag) === 'SQ') yield* this.convertSequence(tag, 'SQ', IMPLICIT_LITTLE_ENDIAN, output, undefined, depth);
        else yield* this.convertSequence(tag, 'UN', IMPLICIT_LITTLE_ENDIAN, IMPLICIT_LITTLE_ENDIAN, undefined, depth, output);
        return;
      }
      throw new TranscodeError(`${formatTag(tag)} with VR ${vr} has undefined length, which only SQ, OB, OW and UN allow`);
    }

    if (vr === 'SQ') {
      yield* this.convertSequence(tag, 'SQ', input, output, this.reader.position + length, depth);
      return;
    }
    if (vr === 'UN' && input.explicitVr && lookupVr(tag) === 'SQ' && length > 0) {
      // The sequence is only converted when its value starts with an item, as the parser checks.
      const first = await this.reader.peek(4);
      if (first !== undefined && first.readUInt32LE(0) === 0xe000fffe) {
        yield* this.convertSequence(tag, 'SQ', IMPLICIT_LITTLE_ENDIAN, output, this.reader.position + length, depth);
        return;
      }
    }

    const resolvedVr = input.explicitVr ? vr : resolveImplicitVr(tag, vr, pixel);
    // A value too long for a 16-bit length field is written as UN (PS3.5 section 6.2.2).
    const outputVr = !LONG_LENGTH_VRS.has(resolvedVr) && length > 0xffff ? 'UN' : resolvedVr;
    // A UN value is in the transfer syntax's byte order, so the dictionary VR decides its swap.
    // NOTE: a UN value of a private or unknown tag keeps its bytes, so a binary private value keeps its byte order.
    // NOTE: OW is swapped per 16-bit word even for 32-bit pixels, as DCMTK 3.6.7 dcmconv +tb does.
    // pydicom 2.3 reads such big endian Pixel Data as 32-bit words instead.
    const valueVr = resolvedVr === 'UN' ? lookupVr(tag) : resolvedVr;
    const swapUnit = input.littleEndian === output.littleEndian ? 0 : (SWAP_UNIT_BYTES[valueVr] ?? 0);

    yield encodeHeader(tag, outputVr, length, output);
    if (length <= WHOLE_VALUE_MAX_BYTES) {
      const value = await this.reader.read(length, `Value of ${formatTag(tag)} (${vr})`);
      if (vr === 'US' && length >= 2) this.notePixelAttribute(tag, value, input.littleEndian, pixel);
      yield swapUnit > 0 ? swapBytes(value, swapUnit) : value;
      return;
    }
    for (let remaining = length; remaining > 0; ) {
      const size = Math.min(remaining, VALUE_CHUNK_BYTES);
      const value = await this.reader.read(size, `Value of ${formatTag(tag)} (${vr})`);
      remaining -= size;
      yield swapUnit > 0 ? swapBytes(value, swapUnit) : value;
    }
  }

  private notePixelAttribute(tag: Tag, value: Buffer, littleEndian: boolean, pixel: PixelAttributes): void {
    if (tag === BITS_ALLOCATED) pixel.bitsAllocated = readUint16(value, 0, littleEndian);
    if (tag === PIXEL_REPRESENTATION) pixel.pixelRepresentation = readUint16(value, 0, littleEndian);
  }

  /**
   * Converts a sequence. `end` is the offset after its value for a defined
   * length, undefined for a sequence closed by a Sequence Delimitation Item.
   * `headerEncoding` is the encoding of the sequence's own header when it
   * differs from `output`, as for a UN sequence whose items stay implicit VR.
   */
  async *convertSequence(
    tag: Tag,
    outputVr: string,
    input: DatasetEncoding,
    output: DatasetEncoding,
    end: number | undefined,
    depth: number,
    headerEncoding: DatasetEncoding = output,
  ): AsyncGenerator<Buffer> {
    if (depth >= MAX_SEQUENCE_DEPTH) {
      throw new TranscodeError(`sequence ${formatTag(tag)} is nested more than ${MAX_SEQUENCE_DEPTH} levels deep`);
    }
    const reader = this.reader;
    yield encodeHeader(tag, outputVr, UNDEFINED_LENGTH, headerEncoding);

    while (end === undefined || reader.position < end) {
      const start = reader.position;
      const itemHeader = await reader.read(8, `Item header in sequence ${formatTag(tag)}`);
      const itemTag = readTag(itemHeader, 0, input.littleEndian);
      const itemLength = readUint32(itemHeader, 4, input.littleEndian);

      if (itemTag === Tags.SequenceDelimitationItem) {
        if (end === undefined) break;
        continue;
      }
      if (itemTag !== Tags.Item) {
        throw new TranscodeError(
          `expected an item tag (FFFE,E000) in sequence ${formatTag(tag)} but found ${formatTag(itemTag)} at byte offset ${start}`,
        );
      }
      const itemEnd = itemLength === UNDEFINED_LENGTH ? undefined : reader.position + itemLength;
      if (itemEnd !== undefined && end !== undefined && itemEnd > end) {
        throw new TranscodeError(`item at byte offset ${start} in sequence ${formatTag(tag)} has length ${itemLength}, past the end of the sequence`);
      }

      yield encodeDelimiter(Tags.Item, UNDEFINED_LENGTH, output);
      yield* this.convertElements(input, output, { depth: depth + 1, topLevel: false, end: itemEnd });
      yield encodeDelimiter(Tags.ItemDelimitationItem, 0, output);
    }
    yield encodeDelimiter(Tags.SequenceDelimitationItem, 0, output);
  }
}

/** Returns the VR of an element read in implicit VR, with the ambiguous cases of PS3.5 annex A.1 resolved. */
function resolveImplicitVr(tag: Tag, dictionaryVr: string, pixel: PixelAttributes): string {
  if (tag === Tags.PixelData) return pixel.bitsAllocated !== undefined && pixel.bitsAllocated <= 8 ? 'OB' : 'OW';
  if (PIXEL_VALUE_TAGS.has(tag)) return pixel.pixelRepresentation === 1 ? 'SS' : 'US';
  return dictionaryVr;
}

function readUint16(buffer: Buffer, offset: number, littleEndian: boolean): number {
  return littleEndian ? buffer.readUInt16LE(offset) : buffer.readUInt16BE(offset);
}

function readUint32(buffer: Buffer, offset: number, littleEndian: boolean): number {
  return littleEndian ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset);
}

function readTag(buffer: Buffer, offset: number, littleEndian: boolean): Tag {
  return ((readUint16(buffer, offset, littleEndian) << 16) | readUint16(buffer, offset + 2, littleEndian)) >>> 0;
}

function writeTag(target: Buffer, tag: Tag, littleEndian: boolean): void {
  if (littleEndian) {
    target.writeUInt16LE(tag >>> 16, 0);
    target.writeUInt16LE(tag & 0xffff, 2);
  } else {
    target.writeUInt16BE(tag >>> 16, 0);
    target.writeUInt16BE(tag & 0xffff, 2);
  }
}

function writeUint32(target: Buffer, value: number, offset: number, littleEndian: boolean): void {
  if (littleEndian) target.writeUInt32LE(value, offset);
  else target.writeUInt32BE(value, offset);
}

/** Encodes an element header (PS3.5 section 7.1). The caller has already turned a too long short-length VR into UN. */
function encodeHeader(tag: Tag, vr: string, length: number, encoding: DatasetEncoding): Buffer {
  const littleEndian = encoding.littleEndian;
  if (!encoding.explicitVr) {
    const header = Buffer.alloc(8);
    writeTag(header, tag, littleEndian);
    writeUint32(header, length, 4, littleEndian);
    return header;
  }
  if (LONG_LENGTH_VRS.has(vr)) {
    const header = Buffer.alloc(12);
    writeTag(header, tag, littleEndian);
    header.write(vr, 4, 'latin1');
    writeUint32(header, length, 8, littleEndian);
    return header;
  }
  const header = Buffer.alloc(8);
  writeTag(header, tag, littleEndian);
  header.write(vr, 4, 'latin1');
  if (littleEndian) header.writeUInt16LE(length, 6);
  else header.writeUInt16BE(length, 6);
  return header;
}

/** Encodes an item or delimitation item header, which has no VR in any transfer syntax (PS3.5 section 7.5). */
function encodeDelimiter(tag: Tag, length: number, encoding: DatasetEncoding): Buffer {
  const header = Buffer.alloc(8);
  writeTag(header, tag, encoding.littleEndian);
  writeUint32(header, length, 4, encoding.littleEndian);
  return header;
}

/** Returns a copy of `value` with the bytes of each `unit`-byte value reversed; trailing bytes of an incomplete unit are copied unchanged. */
function swapBytes(value: Buffer, unit: number): Buffer {
  const copy = Buffer.from(value);
  const whole = copy.length - (copy.length % unit);
  const body = copy.subarray(0, whole);
  if (unit === 2) body.swap16();
  else if (unit === 4) body.swap32();
  else body.swap64();
  return copy;
}

/** Gathers small pieces into pieces of about OUTPUT_CHUNK_BYTES; larger pieces pass through. */
async function* coalesce(pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of pieces) {
    if (piece.length >= OUTPUT_CHUNK_BYTES) {
      if (pendingBytes > 0) yield Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      yield piece;
      continue;
    }
    pending.push(piece);
    pendingBytes += piece.length;
    if (pendingBytes >= OUTPUT_CHUNK_BYTES) {
      yield Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending);
}

/** Yields from `pieces` and destroys `source` when the consumer stops early or the conversion fails. */
async function* closeOnFinish(pieces: AsyncGenerator<Buffer>, source: Readable): AsyncGenerator<Buffer> {
  try {
    yield* pieces;
  } finally {
    source.destroy();
  }
}
